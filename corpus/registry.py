"""The article registry: full texts, chunk offsets, the keyword index and a write journal; here in one SQLite
file (``Registry`` is what both backends offer; postgres_registry.py holds the server one).

Everything here changes inside SQLite transactions, so the registry and its keyword index (FTS5) are
always in step. The vectors live in Chroma, which cannot join those transactions; the ``pending`` journal
records chunk ids written to (or due to leave) Chroma before the registry commits, so that after a crash
the next writer knows exactly which vectors to remove.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from newsbot.corpus.schema import migrate_sqlite
from newsbot.records import Article, Chunk, Filters
from newsbot.text import keyword_forms, keyword_terms

# Keyword matches ranked before a filter is applied, per result asked for (see ``keyword_search``).
PREFILTER = 8
KEYWORD_BATCH = 5000  # chunks read at a time for an outside keyword index
# the chunks of articles without a date (in Chroma they carry day 0, visible as of any day)
UNDATED_CHUNKS = "SELECT c.id FROM chunks c JOIN articles a ON a.id = c.article_id WHERE a.published IS NULL"
CHUNK_RECORD = ("chunk_id", "article_id", "seq", "start", "end", "text", "title", "source", "published", "url")


@dataclass(frozen=True)
class StoredArticle:
    id: str
    title: str
    source: str
    published: str | None
    url: str | None
    dateline: str | None
    origin: str
    text: str
    text_hash: str


@dataclass(frozen=True)
class Feed:
    """A feed subscription and how its refreshes went (times are Unix seconds)."""

    url: str
    source: str
    every: float
    etag: str | None = None
    last_modified: str | None = None
    last_success: float | None = None
    last_error: str | None = None
    failures: int = 0
    articles_added: int = 0
    next_run: float = 0.0


FEED_COLUMNS = tuple(Feed.__dataclass_fields__)


@dataclass(frozen=True)
class Watch:
    """A watched question: its chat (None: the command line's) and the articles its answers cited so far."""

    id: int
    chat_id: int | None
    question: str
    seen: frozenset[str]


@dataclass(frozen=True)
class RegistryStats:
    articles: int
    chunks: int
    sources: dict[str, int]
    first_published: str | None
    last_published: str | None


class Registry(Protocol):
    """What the store asks of a registry, whichever backend holds it (SQLite file or PostgreSQL server)."""

    def close(self) -> None: ...
    def meta(self) -> dict[str, str]: ...
    def set_meta(self, values: dict[str, str]) -> None: ...
    def text_hash_of(self, article_id: str) -> str | None: ...
    def article_with_text(self, text_hash: str) -> str | None: ...
    def alias_target(self, key: str) -> str | None: ...
    def article(self, article_id: str) -> StoredArticle | None: ...
    def article_ids(self, source: str | None = None) -> list[str]: ...
    def published_after(self, day: str) -> list[str]: ...
    def newest_titles(self, limit: int) -> list[str]: ...
    def undated_chunk_ids(self) -> list[str]: ...
    def chunks_of(self, article_id: str) -> list[Chunk]: ...
    def chunk_records(self, chunk_ids: Sequence[str]) -> dict[str, dict[str, Any]]: ...
    def chunk_count(self) -> int: ...
    def chunk_ids(self) -> set[str]: ...
    def chunks_for_embedding(self, chunk_ids: Sequence[str]) -> list[tuple[Chunk, str, str, str | None]]: ...
    def keyword_search(self, query: str, limit: int, filters: Filters | None = None) -> list[tuple[str, float]]: ...
    def idf(self, terms: Iterable[str]) -> dict[str, float]: ...
    def stats(self) -> RegistryStats: ...
    def problems(self) -> list[str]: ...
    def journal_adds(self, chunk_ids: Sequence[str]) -> None: ...
    def commit_articles(self, batch: Sequence[tuple[Article, Sequence[Chunk]]]) -> list[str]: ...
    def add_alias(self, key: str, article_id: str, url: str | None) -> None: ...
    def delete_articles(self, article_ids: Sequence[str]) -> list[str]: ...
    def clear_pending(self, chunk_ids: Iterable[str]) -> None: ...
    def repairing(self) -> AbstractContextManager[tuple[list[tuple[str, str]], bool]]: ...
    def articles_locked(self, article_ids: Sequence[str]) -> AbstractContextManager[None]: ...
    def feeds(self) -> list[Feed]: ...
    def add_feed(self, url: str, every: float, source: str) -> bool: ...
    def seed_feeds(self, feeds: Iterable[tuple[str, float, str]]) -> None: ...
    def remove_feed(self, url: str) -> bool: ...
    def save_feed(self, feed: Feed) -> None: ...
    def watches(self, chat_id: int | None = None, *, every_chat: bool = False) -> list[Watch]: ...
    def add_watch(self, chat_id: int | None, question: str, seen: Iterable[str], cap: int) -> Watch | None: ...
    def remove_watch(self, watch_id: int) -> None: ...
    def set_seen(self, watch_id: int, seen: Iterable[str]) -> None: ...
    def articles_marker(self) -> tuple[int, str | None]: ...
    def keyword_generation(self) -> int: ...
    def keyword_changes(self, after: int) -> list[int] | None: ...
    def trim_keyword_changes(self, upto: int) -> None: ...
    def keyword_documents(self, rows: Sequence[int] | None = None) -> Iterator[list[tuple[Any, ...]]]: ...
    def chunk_ids_passing(self, ranked: list[tuple[int, float]], filters: Filters) -> list[tuple[str, float]]: ...


class SQLiteRegistry:
    """One machine's registry; the store's file lock makes its writer the only one, so the whole journal is
    that writer's to repair."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute("PRAGMA foreign_keys = ON")
        migrate_sqlite(self._db)
        self._counted_at: tuple[int, int] | None = None  # the registry's state when self._counts were counted
        self._counts: dict[str, int] = {}  # term -> chunks holding it, "" -> all chunks (see idf)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- metadata -------------------------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT key, value FROM meta"))

    def set_meta(self, values: dict[str, str]) -> None:
        with self._transaction() as db:
            db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", values.items())

    def data_version(self) -> int:
        """A number that changes whenever another connection (or process) has committed to the registry."""
        return self._db.execute("PRAGMA data_version").fetchone()[0]

    # -- lookups --------------------------------------------------------------------------------------
    def text_hash_of(self, article_id: str) -> str | None:
        row = self._db.execute("SELECT text_hash FROM articles WHERE id = ?", (article_id,)).fetchone()
        return row[0] if row else None

    def article_with_text(self, text_hash: str) -> str | None:
        row = self._db.execute("SELECT id FROM articles WHERE text_hash = ? LIMIT 1", (text_hash,)).fetchone()
        return row[0] if row else None

    def alias_target(self, key: str) -> str | None:
        row = self._db.execute("SELECT article_id FROM aliases WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def article(self, article_id: str) -> StoredArticle | None:
        row = self._db.execute(
            "SELECT id, title, source, published, url, dateline, origin, text, text_hash FROM articles WHERE id = ?",
            (article_id,),
        ).fetchone()
        return StoredArticle(*row) if row else None

    def article_ids(self, source: str | None = None) -> list[str]:
        if source is None:
            return [r[0] for r in self._db.execute("SELECT id FROM articles ORDER BY id")]
        return [r[0] for r in self._db.execute("SELECT id FROM articles WHERE source = ? ORDER BY id", (source,))]

    def published_after(self, day: str) -> list[str]:
        """Ids of the articles published after ``day`` (ISO date), sorted. Every question asks (its as-of day):
        sorted here, as ``ORDER BY id`` made SQLite walk the whole primary key instead of the published index
        (176 ms for 60k articles, a million chunks)."""
        return sorted(r[0] for r in self._db.execute("SELECT id FROM articles WHERE published > ?", (day,)))

    def newest_titles(self, limit: int) -> list[str]:
        """The titles of the ``limit`` newest articles by publication date, undated ones after the dated."""
        sql = "SELECT title FROM articles WHERE published IS {} ORDER BY published DESC, rowid DESC LIMIT ?"
        dated = [r[0] for r in self._db.execute(sql.format("NOT NULL"), (limit,))]
        return dated + [r[0] for r in self._db.execute(sql.format("NULL"), (limit - len(dated),))]

    def undated_chunk_ids(self) -> list[str]:
        return [r[0] for r in self._db.execute(UNDATED_CHUNKS)]

    def chunks_of(self, article_id: str) -> list[Chunk]:
        article = self.article(article_id)
        if article is None:
            return []
        rows = self._db.execute(
            'SELECT id, seq, start, "end" FROM chunks WHERE article_id = ? ORDER BY seq', (article_id,)
        )
        return [Chunk(cid, article_id, seq, s, e, article.text[s:e]) for cid, seq, s, e in rows]

    def chunk_records(self, chunk_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Chunk id -> its offsets, text and article metadata, for the ids that exist."""
        found: dict[str, dict[str, Any]] = {}
        for lo in range(0, len(chunk_ids), 500):
            part = list(chunk_ids[lo : lo + 500])
            rows = self._db.execute(
                'SELECT c.id, c.article_id, c.seq, c.start, c."end", substr(a.text, c.start + 1, c."end" - c.start), '
                "a.title, a.source, a.published, a.url FROM chunks c JOIN articles a ON a.id = c.article_id "
                f"WHERE c.id IN ({','.join('?' * len(part))})",
                part,
            )
            for row in rows:
                found[row[0]] = dict(zip(CHUNK_RECORD, row, strict=True))
        return found

    def chunk_count(self) -> int:
        return self._db.execute("SELECT count(*) FROM chunks").fetchone()[0]

    def chunk_ids(self) -> set[str]:
        return {r[0] for r in self._db.execute("SELECT id FROM chunks")}

    def chunks_for_embedding(self, chunk_ids: Sequence[str]) -> list[tuple[Chunk, str, str, str | None]]:
        """(chunk, title, source, published) of each id: what re-embedding a lost vector needs."""
        return [
            (
                Chunk(r["chunk_id"], r["article_id"], r["seq"], r["start"], r["end"], r["text"]),
                r["title"],
                r["source"],
                r["published"],
            )
            for r in self.chunk_records(chunk_ids).values()
        ]

    def keyword_search(self, query: str, limit: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) of the chunks best matching any key term of ``query``, best first.

        FTS5 ranks its matches on its own and only the best are joined to their chunks and articles (joining
        every match before sorting cost half the time on a million chunks). Under a filter the best
        ``PREFILTER`` x ``limit`` are ranked first; when fewer than ``limit`` of them pass and more matches
        exist, every match is ranked under the filter, as before."""
        terms = keyword_terms(query)
        if not terms:
            return []
        match = " OR ".join(_match(term) for term in terms)
        conditions, params = filter_sql(filters or Filters())
        pool = limit * PREFILTER if conditions else limit
        ranked = self._db.execute(
            "SELECT rowid, rank FROM chunk_fts WHERE chunk_fts MATCH ? ORDER BY rank LIMIT ?", (match, pool)
        ).fetchall()
        kept = self._passing(ranked, conditions, params)
        if len(kept) < limit and len(ranked) == pool and conditions:
            kept = self._db.execute(
                "SELECT c.id, bm25(chunk_fts) FROM chunk_fts JOIN chunks c ON c.rowid = chunk_fts.rowid "
                f"JOIN articles a ON a.id = c.article_id WHERE chunk_fts MATCH ? {conditions} "
                "ORDER BY bm25(chunk_fts) LIMIT ?",
                (match, *params, limit),
            ).fetchall()
        return [(cid, -float(rank)) for cid, rank in kept[:limit]]

    def _passing(self, ranked: list[tuple[int, float]], conditions: str, params: list[str]) -> list[tuple[str, float]]:
        """(chunk id, rank) of the ranked (rowid, rank) keyword matches whose article passes the conditions."""
        if not ranked:
            return []
        rowids = [rowid for rowid, _ in ranked]
        ids = dict(
            self._db.execute(
                "SELECT c.rowid, c.id FROM chunks c JOIN articles a ON a.id = c.article_id "
                f"WHERE c.rowid IN ({','.join('?' * len(rowids))}) {conditions}",
                (*rowids, *params),
            )
        )
        return [(ids[rowid], rank) for rowid, rank in ranked if rowid in ids]

    def idf(self, terms: Iterable[str]) -> dict[str, float]:
        """BM25-style inverse document frequency of each term (with its irregular forms) over the chunks.

        Counting a term walks all its postings (the common ones of a question took hundreds of ms on a million
        chunks), so the counts are kept until any connection changes the registry."""
        state = (self.data_version(), self._db.total_changes)
        if state != self._counted_at:
            self._counted_at, self._counts = state, {"": self.chunk_count()}
        total = self._counts[""]
        weights = {}
        for term in terms:
            if term not in self._counts:
                found = self._db.execute("SELECT count(*) FROM chunk_fts WHERE chunk_fts MATCH ?", (_match(term),))
                self._counts[term] = found.fetchone()[0]
            df = self._counts[term]
            weights[term] = math.log(1 + (total - df + 0.5) / (df + 0.5))
        return weights

    def stats(self) -> RegistryStats:
        articles, first, last = self._db.execute(
            "SELECT count(*), min(published), max(published) FROM articles"
        ).fetchone()
        chunks = self.chunk_count()
        sources = dict(
            self._db.execute("SELECT source, count(*) FROM articles GROUP BY source ORDER BY count(*) DESC, source")
        )
        return RegistryStats(articles, chunks, sources, first, last)

    def problems(self) -> list[str]:
        """Inconsistencies inside the registry (none is expected: every write is one transaction)."""
        checks = {
            "chunks without a keyword entry": "SELECT count(*) FROM chunks "
            "WHERE rowid NOT IN (SELECT rowid FROM chunk_fts)",
            "keyword entries without a chunk": "SELECT count(*) FROM chunk_fts "
            "WHERE rowid NOT IN (SELECT rowid FROM chunks)",
            "articles without chunks": "SELECT count(*) FROM articles WHERE id NOT IN (SELECT article_id FROM chunks)",
            "chunks outside their article": "SELECT count(*) FROM chunks c JOIN articles a ON a.id = c.article_id "
            'WHERE c.start < 0 OR c."end" > length(a.text) OR c.start >= c."end"',
            "unfinished journal entries": "SELECT count(*) FROM pending",
        }
        found = [(name, self._db.execute(sql).fetchone()[0]) for name, sql in checks.items()]
        return [f"{count} {name}" for name, count in found if count]

    # -- the change log an outside keyword index follows (corpus/tantivy_index.py) ----------------------
    def keyword_generation(self) -> int:
        """The number of chunk additions and removals ever logged: what an index in step has applied."""
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'keyword_changes'").fetchone()
        return row[0] if row else 0

    def keyword_changes(self, after: int) -> list[int] | None:
        """The rowids of the chunks added or removed since generation ``after``; None when some of those
        changes were trimmed already (the index must then be rebuilt)."""
        generation = self.keyword_generation()
        first = self._db.execute("SELECT min(seq) FROM keyword_changes WHERE seq > ?", (after,)).fetchone()[0]
        if after > generation or (after < generation and first != after + 1):
            return None
        rows = self._db.execute("SELECT DISTINCT row FROM keyword_changes WHERE seq > ?", (after,))
        return [r[0] for r in rows]

    def trim_keyword_changes(self, upto: int) -> None:
        """Forget the changes up to generation ``upto`` (an index has applied them)."""
        with self._transaction() as db:
            db.execute("DELETE FROM keyword_changes WHERE seq <= ?", (upto,))

    def keyword_documents(self, rows: Sequence[int] | None = None) -> Iterator[list[tuple[Any, ...]]]:
        """(rowid, text, article id, source, published) of the given chunk rowids that exist (None: every
        chunk), in batches."""
        select = (
            'SELECT c.rowid, substr(a.text, c.start + 1, c."end" - c.start), a.id, a.source, a.published '
            "FROM chunks c JOIN articles a ON a.id = c.article_id"
        )
        if rows is None:
            last = 0
            while batch := self._db.execute(
                f"{select} WHERE c.rowid > ? ORDER BY c.rowid LIMIT ?", (last, KEYWORD_BATCH)
            ).fetchall():
                yield batch
                last = batch[-1][0]
            return
        for lo in range(0, len(rows), KEYWORD_BATCH):
            part = rows[lo : lo + KEYWORD_BATCH]
            yield self._db.execute(f"{select} WHERE c.rowid IN ({','.join('?' * len(part))})", part).fetchall()

    def chunk_ids_passing(self, ranked: list[tuple[int, float]], filters: Filters) -> list[tuple[str, float]]:
        """(chunk id, score) of ranked (rowid, score) pairs whose chunk exists and passes the filters, in order."""
        return self._passing(ranked, *filter_sql(filters))

    # -- writes ---------------------------------------------------------------------------------------
    def journal_adds(self, chunk_ids: Sequence[str]) -> None:
        """Record vectors about to be written to Chroma, before they are."""
        with self._transaction() as db:
            db.executemany("INSERT OR REPLACE INTO pending (chunk_id, op) VALUES (?, 'add')", ((c,) for c in chunk_ids))

    def commit_articles(self, batch: Sequence[tuple[Article, Sequence[Chunk]]]) -> list[str]:
        """Store articles with their chunks and keyword entries, replacing earlier versions, in one
        transaction. Returns the chunk ids of replaced versions, now journalled for removal from Chroma."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._transaction() as db:
            replaced = self._drop_chunks(db, [article.id for article, _ in batch])
            for article, chunks in batch:
                db.execute(
                    "INSERT INTO articles (id, key, title, source, published, url, dateline, origin, text, "
                    "text_hash, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                    "key = excluded.key, title = excluded.title, source = excluded.source, "
                    "published = excluded.published, url = excluded.url, dateline = excluded.dateline, "
                    "origin = excluded.origin, text = excluded.text, text_hash = excluded.text_hash, "
                    "ingested_at = excluded.ingested_at",
                    (
                        article.id,
                        article.key,
                        article.title,
                        article.source,
                        article.published,
                        article.url,
                        article.dateline,
                        article.origin,
                        article.text,
                        article.text_hash,
                        now,
                    ),
                )
                for chunk in chunks:
                    cursor = db.execute(
                        'INSERT INTO chunks (id, article_id, seq, start, "end") VALUES (?, ?, ?, ?, ?)',
                        (chunk.id, chunk.article_id, chunk.seq, chunk.start, chunk.end),
                    )
                    db.execute("INSERT INTO chunk_fts (rowid, text) VALUES (?, ?)", (cursor.lastrowid, chunk.text))
                    db.execute("INSERT INTO keyword_changes (row) VALUES (?)", (cursor.lastrowid,))
                db.executemany("DELETE FROM pending WHERE chunk_id = ? AND op = 'add'", ((c.id,) for c in chunks))
        return replaced

    def add_alias(self, key: str, article_id: str, url: str | None) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO aliases (key, article_id, url) VALUES (?, ?, ?)",
                (key, article_id, url),
            )

    def delete_articles(self, article_ids: Sequence[str]) -> list[str]:
        """Remove articles, their chunks, keyword entries and aliases; returns the chunk ids, journalled for
        removal from Chroma."""
        with self._transaction() as db:
            removed = self._drop_chunks(db, article_ids)
            db.executemany("DELETE FROM articles WHERE id = ?", ((a,) for a in article_ids))
        return removed

    # -- feeds --------------------------------------------------------------------------------------------
    def feeds(self) -> list[Feed]:
        rows = self._db.execute(f"SELECT {', '.join(FEED_COLUMNS)} FROM feeds ORDER BY url")
        return [Feed(*row) for row in rows]

    def add_feed(self, url: str, every: float, source: str) -> bool:
        """Subscribe (due at once); an existing subscription gets the new interval and source. True when new."""
        with self._transaction() as db:
            known = db.execute("SELECT 1 FROM feeds WHERE url = ?", (url,)).fetchone() is not None
            db.execute(
                "INSERT INTO feeds (url, source, every) VALUES (?, ?, ?) "
                "ON CONFLICT (url) DO UPDATE SET source = excluded.source, every = excluded.every",
                (url, source, every),
            )
        return not known

    def seed_feeds(self, feeds: Iterable[tuple[str, float, str]]) -> None:
        """Subscribe to (url, every, source) feeds not yet subscribed; existing ones are left as they are."""
        with self._transaction() as db:
            db.executemany("INSERT OR IGNORE INTO feeds (url, every, source) VALUES (?, ?, ?)", feeds)

    def remove_feed(self, url: str) -> bool:
        with self._transaction() as db:
            return db.execute("DELETE FROM feeds WHERE url = ?", (url,)).rowcount > 0

    def save_feed(self, feed: Feed) -> None:
        """Record a refresh's outcome (a feed removed meanwhile stays removed)."""
        columns = FEED_COLUMNS[1:]
        with self._transaction() as db:
            db.execute(
                f"UPDATE feeds SET {', '.join(f'{c} = ?' for c in columns)} WHERE url = ?",
                (*(getattr(feed, c) for c in columns), feed.url),
            )

    # -- watched questions ----------------------------------------------------------------------------------
    def watches(self, chat_id: int | None = None, *, every_chat: bool = False) -> list[Watch]:
        """The watches of one chat (None: the command line's) in the order they were added, or of all."""
        sql = "SELECT id, chat_id, question, seen FROM watches"
        rows = self._db.execute(
            f"{sql} ORDER BY id" if every_chat else f"{sql} WHERE chat_id IS ? ORDER BY id",
            () if every_chat else (chat_id,),
        )
        return [Watch(i, chat, question, frozenset(json.loads(seen))) for i, chat, question, seen in rows]

    def add_watch(self, chat_id: int | None, question: str, seen: Iterable[str], cap: int) -> Watch | None:
        """Watch a question (None when the chat already watches ``cap`` questions)."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._transaction() as db:
            if db.execute("SELECT count(*) FROM watches WHERE chat_id IS ?", (chat_id,)).fetchone()[0] >= cap:
                return None
            cursor = db.execute(
                "INSERT INTO watches (chat_id, question, seen, created) VALUES (?, ?, ?, ?)",
                (chat_id, question, json.dumps(sorted(seen)), now),
            )
        return Watch(cursor.lastrowid or 0, chat_id, question, frozenset(seen))

    def remove_watch(self, watch_id: int) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM watches WHERE id = ?", (watch_id,))

    def set_seen(self, watch_id: int, seen: Iterable[str]) -> None:
        with self._transaction() as db:
            db.execute("UPDATE watches SET seen = ? WHERE id = ?", (json.dumps(sorted(seen)), watch_id))

    def export_articles(self, batch_size: int) -> Iterator[list[tuple[Article, list[Chunk]]]]:
        """Every article with its chunks, in batches of ``batch_size`` articles (``newsbot migrate`` copies them)."""
        last = ""
        while True:
            rows = self._db.execute(
                "SELECT id, key, text, title, source, published, url, dateline, origin FROM articles WHERE id > ? "
                "ORDER BY id LIMIT ?",
                (last, batch_size),
            ).fetchall()
            if not rows:
                return
            yield [(Article(*row[1:]), self.chunks_of(row[0])) for row in rows]
            last = rows[-1][0]

    def aliases(self) -> list[tuple[str, str, str | None]]:
        """(key, article id, url) of every alias."""
        return list(self._db.execute("SELECT key, article_id, url FROM aliases ORDER BY key"))

    def articles_marker(self) -> tuple[int, str | None]:
        """Changes whenever articles are added, replaced or removed (count and latest ingest time)."""
        count, latest = self._db.execute("SELECT count(*), max(ingested_at) FROM articles").fetchone()
        return count, latest

    def pending(self) -> list[tuple[str, str]]:
        return list(self._db.execute("SELECT chunk_id, op FROM pending"))

    @contextmanager
    def repairing(self) -> Iterator[tuple[list[tuple[str, str]], bool]]:
        """The journal rows to finish and whether this writer is alone (so counts may be compared): here the
        whole journal, always alone (the file lock). The rows are cleared when the block ends."""
        pending = self.pending()
        yield pending, True
        self.clear_pending(cid for cid, _ in pending)

    @contextmanager
    def articles_locked(self, article_ids: Sequence[str]) -> Iterator[None]:
        """Nothing to lock: the store's file lock already keeps other writers out."""
        yield

    def clear_pending(self, chunk_ids: Iterable[str]) -> None:
        with self._transaction() as db:
            db.executemany("DELETE FROM pending WHERE chunk_id = ?", ((c,) for c in chunk_ids))

    @staticmethod
    def _drop_chunks(db: sqlite3.Connection, article_ids: Sequence[str]) -> list[str]:
        dropped: list[str] = []
        for article_id in article_ids:
            rows = db.execute("SELECT rowid, id FROM chunks WHERE article_id = ?", (article_id,)).fetchall()
            db.executemany("DELETE FROM chunk_fts WHERE rowid = ?", ((r[0],) for r in rows))
            db.executemany("INSERT INTO keyword_changes (row) VALUES (?)", ((r[0],) for r in rows))
            db.execute("DELETE FROM chunks WHERE article_id = ?", (article_id,))
            dropped.extend(r[1] for r in rows)
        db.executemany("INSERT OR REPLACE INTO pending (chunk_id, op) VALUES (?, 'delete')", ((c,) for c in dropped))
        return dropped


def _match(term: str) -> str:
    """An FTS5 query for a term as the one stemmer reads it: the term or any of its irregular forms."""
    return " OR ".join(f'"{form}"' for form in keyword_forms(term))


def filter_sql(filters: Filters, mark: str = "?") -> tuple[str, list[str]]:
    """``AND ...`` conditions on the ``articles a`` table, with their parameters (``mark``: the placeholder)."""
    parts, params = [], []
    for clause, value in (
        (f"a.published >= {mark}", filters.since),
        (f"a.published <= {mark}", filters.until),
        (f"a.source = {mark}", filters.source),
    ):
        if value:
            parts.append(f"AND {clause}")
            params.append(value)
    if filters.as_of:
        parts.append(f"AND (a.published IS NULL OR a.published <= {mark})")
        params.append(filters.as_of)
    if filters.article_ids is not None:
        ids = sorted(filters.article_ids)
        parts.append(f"AND a.id IN ({','.join([mark] * len(ids)) or 'NULL'})")
        params.extend(ids)
    return " ".join(parts), params
