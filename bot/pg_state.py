"""The bot's state in PostgreSQL (``store.backend: postgres``): tables in their own schema, made at open, so that
every replica of the bot, on any machine, finds the answers, conversations and claims of the others."""

from __future__ import annotations

from typing import Any

import psycopg

from newsbot.bot.state import TABLES, BotState

SCHEMA = "newsbot_bot"
STATEMENT_TIMEOUT_MS = 10_000  # the bot's statements are small: a stuck one fails its update, not the bot
SCHEMA_LOCK = 0x6E627374  # an advisory lock: replicas starting together make the tables one at a time


class PostgresBotState(BotState):
    """One autocommit connection, used one statement at a time; a broken connection is replaced at the next
    statement (the statement that found it broken fails, and its update gets the apology)."""

    def __init__(self, dsn: str) -> None:
        super().__init__()
        self._dsn = dsn
        self._db = self._connect()
        with self._db.transaction():
            self._db.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            self._db.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            self._db.execute(TABLES.format(int="BIGINT", real="DOUBLE PRECISION"))

    def _connect(self) -> psycopg.Connection:
        options = f"-c search_path={SCHEMA} -c statement_timeout={STATEMENT_TIMEOUT_MS}"
        return psycopg.connect(self._dsn, autocommit=True, connect_timeout=10, options=options)

    def close(self) -> None:
        self._db.close()

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[list[tuple[Any, ...]], int]:
        with self._lock:
            if self._db.broken:
                self._db = self._connect()
            cursor = self._db.execute(sql.replace("?", "%s"), params)
            return (cursor.fetchall() if cursor.description else []), cursor.rowcount
