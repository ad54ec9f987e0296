"""Schema versions: numbered SQL files (``migrations/<backend>/NNNN_name.sql``) applied in order when a registry
opens, each in the transaction that records it in ``schema_version``."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import psycopg

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)"
)
# pg_advisory_xact_lock key: two processes starting together migrate one after the other.
MIGRATION_LOCK = 0x6E657773


def migrations(backend: str) -> list[tuple[int, str, str]]:
    """(version, name, SQL) of every migration of ``backend``, in order."""
    files = sorted((MIGRATIONS / backend).glob("[0-9][0-9][0-9][0-9]_*.sql"))
    return [(int(f.name[:4]), f.stem, f.read_text(encoding="utf-8")) for f in files]


def migrate_sqlite(db: sqlite3.Connection) -> list[str]:
    """Bring a SQLite registry (autocommit connection) up to date; returns the migrations applied. The baseline
    (0001, the layout from before schema versions) runs at every open, as that layout's CREATE IF NOT EXISTS
    always did, so a store missing one of its tables (made before feeds existed) gets it back."""
    applied = []
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(VERSION_TABLE)
        current = db.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
        for version, name, sql in migrations("sqlite"):
            if version > current or version == 1:  # the baseline: IF NOT EXISTS throughout, run at every open
                for statement in _statements(sql):
                    db.execute(statement)
            if version > current:
                db.execute("INSERT INTO schema_version VALUES (?, ?, ?)", (version, name, _now()))
                applied.append(name)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return applied


def migrate_postgres(db: psycopg.Connection) -> list[str]:
    """Bring a PostgreSQL registry up to date (under an advisory lock); returns the migrations applied."""
    applied = []
    with db.transaction():
        db.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        db.execute(VERSION_TABLE)
        current = db.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
        for version, name, sql in migrations("postgres"):
            if version > current:
                db.execute(sql.encode())  # no parameters: several statements in one go
                db.execute("INSERT INTO schema_version VALUES (%s, %s, %s)", (version, name, _now()))
                applied.append(name)
    return applied


def _statements(sql: str) -> list[str]:
    """The SQL statements of a script, each whole (sqlite3.complete_statement knows where one ends)."""
    found, current = [], ""
    for line in sql.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            found.append(current.strip())
            current = ""
    if current.strip() and not current.strip().startswith("--"):
        found.append(current.strip())
    return found


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
