"""What the bot remembers across restarts and replicas: each answer's citations (behind a short key that fits in a
button's 64-byte callback data), each chat's conversation, and claims (an update taken by one replica, a polite
refusal already sent). In a SQLite file beside the store, or in PostgreSQL with ``store.backend: postgres``, where
every replica of the bot reads and writes the same state."""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from newsbot.records import Answer, Citation
from newsbot.settings import Settings, postgres_dsn

CLAIM_RETENTION = 86400.0  # seconds a claim is kept: Telegram and load balancers retry within minutes
PURGE_EVERY = 3600.0  # seconds between two purges of old claims by one process

TABLES = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    chat_id {int} NOT NULL,
    message_id {int},
    conversation TEXT NOT NULL,
    question TEXT NOT NULL,
    text TEXT NOT NULL,
    citations TEXT NOT NULL,
    created {real} NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_message ON answers (chat_id, message_id);
CREATE INDEX IF NOT EXISTS answers_conversation ON answers (conversation, created);
CREATE TABLE IF NOT EXISTS chats (chat_id {int} PRIMARY KEY, conversation TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS claims (kind TEXT NOT NULL, name TEXT NOT NULL, claimed {real} NOT NULL,
    PRIMARY KEY (kind, name));
CREATE INDEX IF NOT EXISTS claims_claimed ON claims (claimed);
"""


@dataclass(frozen=True)
class StoredAnswer:
    key: str
    chat_id: int
    message_id: int | None
    conversation: str
    question: str
    text: str
    citations: list[Citation]


class BotState(ABC):
    """The state's operations, in SQL that SQLite and PostgreSQL both run (``?`` placeholders); each backend
    executes one statement at a time under a lock, so handlers on several threads may share one instance."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next_purge = 0.0

    @abstractmethod
    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[list[tuple[Any, ...]], int]:
        """Run one statement (autocommit): the rows it returned and how many rows it changed."""

    @abstractmethod
    def close(self) -> None: ...

    def conversation(self, chat_id: int) -> str:
        rows, _ = self._execute("SELECT conversation FROM chats WHERE chat_id = ?", (chat_id,))
        return rows[0][0] if rows else self.new_conversation(chat_id)

    def new_conversation(self, chat_id: int) -> str:
        conversation = secrets.token_hex(6)
        self._execute(
            "INSERT INTO chats (chat_id, conversation) VALUES (?, ?) "
            "ON CONFLICT (chat_id) DO UPDATE SET conversation = excluded.conversation",
            (chat_id, conversation),
        )
        return conversation

    def history(self, conversation: str, turns: int = 3) -> list[dict[str, str]]:
        rows, _ = self._execute(
            "SELECT question, text FROM answers WHERE conversation = ? ORDER BY created DESC LIMIT ?",
            (conversation, turns),
        )
        return [{"question": q, "answer": a} for q, a in reversed(rows)]

    def save(self, chat_id: int, conversation: str, question: str, answer: Answer) -> str:
        key = secrets.token_urlsafe(6)
        citations = json.dumps([asdict(c) for c in answer.citations])
        self._execute(
            "INSERT INTO answers (key, chat_id, conversation, question, text, citations, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key, chat_id, conversation, question, answer.text, citations, time.time()),
        )
        return key

    def attach_message(self, key: str, message_id: int) -> None:
        self._execute("UPDATE answers SET message_id = ? WHERE key = ?", (message_id, key))

    def by_key(self, key: str) -> StoredAnswer | None:
        return self._one("key = ?", (key,))

    def by_message(self, chat_id: int, message_id: int) -> StoredAnswer | None:
        return self._one("chat_id = ? AND message_id = ?", (chat_id, message_id))

    def latest(self, chat_id: int) -> StoredAnswer | None:
        return self._one("chat_id = ? ORDER BY created DESC LIMIT 1", (chat_id,))

    def claim(self, kind: str, name: str) -> bool:
        """True for the first process to claim ``(kind, name)`` (an update id, a chat refused...) within
        CLAIM_RETENTION; False for every later claim, from this process or any other sharing the state."""
        now = time.time()
        if now >= self._next_purge:
            self._next_purge = now + PURGE_EVERY
            self._execute("DELETE FROM claims WHERE claimed < ?", (now - CLAIM_RETENTION,))
        _, changed = self._execute(
            "INSERT INTO claims (kind, name, claimed) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", (kind, name, now)
        )
        return changed == 1

    def release(self, kind: str, name: str) -> None:
        """Give a claim up (its work failed), so that the next claim of it, from any process, wins."""
        self._execute("DELETE FROM claims WHERE kind = ? AND name = ?", (kind, name))

    def _one(self, where: str, params: tuple[Any, ...]) -> StoredAnswer | None:
        rows, _ = self._execute(
            f"SELECT key, chat_id, message_id, conversation, question, text, citations FROM answers WHERE {where}",
            params,
        )
        if not rows:
            return None
        row = rows[0]
        return StoredAnswer(*row[:6], citations=[Citation(**c) for c in json.loads(row[6])])


class SqliteBotState(BotState):
    """The state in a SQLite file (one machine: every process there may open the same file)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.executescript(TABLES.format(int="INTEGER", real="REAL"))

    def close(self) -> None:
        self._db.close()

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[list[tuple[Any, ...]], int]:
        with self._lock:
            cursor = self._db.execute(sql, params)
            return cursor.fetchall(), cursor.rowcount


def open_bot_state(config: Settings, store_path: Path) -> BotState:
    """PostgreSQL's state with ``store.backend: postgres`` (shared by replicas), else ``bot.sqlite3`` in the store."""
    if config.store.backend == "postgres":
        from newsbot.bot.pg_state import PostgresBotState

        return PostgresBotState(postgres_dsn())
    return SqliteBotState(store_path / "bot.sqlite3")
