"""What the bot remembers across restarts: each answer's citations (behind a short key that fits in a
button's 64-byte callback data) and each chat's conversation, in a SQLite file beside the store."""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from newsbot.records import Answer, Citation

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    chat_id INTEGER NOT NULL,
    message_id INTEGER,
    conversation TEXT NOT NULL,
    question TEXT NOT NULL,
    text TEXT NOT NULL,
    citations TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_message ON answers (chat_id, message_id);
CREATE INDEX IF NOT EXISTS answers_conversation ON answers (conversation, created);
CREATE TABLE IF NOT EXISTS chats (chat_id INTEGER PRIMARY KEY, conversation TEXT NOT NULL);
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


class BotState:
    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def conversation(self, chat_id: int) -> str:
        row = self._db.execute("SELECT conversation FROM chats WHERE chat_id = ?", (chat_id,)).fetchone()
        return row[0] if row else self.new_conversation(chat_id)

    def new_conversation(self, chat_id: int) -> str:
        conversation = secrets.token_hex(6)
        self._db.execute("INSERT OR REPLACE INTO chats (chat_id, conversation) VALUES (?, ?)", (chat_id, conversation))
        return conversation

    def history(self, conversation: str, turns: int = 3) -> list[dict[str, str]]:
        rows = self._db.execute(
            "SELECT question, text FROM answers WHERE conversation = ? ORDER BY created DESC LIMIT ?",
            (conversation, turns),
        ).fetchall()
        return [{"question": q, "answer": a} for q, a in reversed(rows)]

    def save(self, chat_id: int, conversation: str, question: str, answer: Answer) -> str:
        key = secrets.token_urlsafe(6)
        self._db.execute(
            "INSERT INTO answers (key, chat_id, conversation, question, text, citations, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                chat_id,
                conversation,
                question,
                answer.text,
                json.dumps([asdict(c) for c in answer.citations]),
                time.time(),
            ),
        )
        return key

    def attach_message(self, key: str, message_id: int) -> None:
        self._db.execute("UPDATE answers SET message_id = ? WHERE key = ?", (message_id, key))

    def by_key(self, key: str) -> StoredAnswer | None:
        return self._one("key = ?", (key,))

    def by_message(self, chat_id: int, message_id: int) -> StoredAnswer | None:
        return self._one("chat_id = ? AND message_id = ?", (chat_id, message_id))

    def latest(self, chat_id: int) -> StoredAnswer | None:
        return self._one("chat_id = ? ORDER BY created DESC LIMIT 1", (chat_id,))

    def _one(self, where: str, params: tuple[Any, ...]) -> StoredAnswer | None:
        row = self._db.execute(
            f"SELECT key, chat_id, message_id, conversation, question, text, citations FROM answers WHERE {where}",
            params,
        ).fetchone()
        if row is None:
            return None
        return StoredAnswer(*row[:6], citations=[Citation(**c) for c in json.loads(row[6])])
