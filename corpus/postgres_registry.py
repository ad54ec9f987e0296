"""The registry in PostgreSQL (``store.backend: postgres``): shared by every process of a deployment, written by
several at once.

No file lock: each write is a transaction, and the articles a writer is storing or removing are held by
advisory locks (one per article id, taken in key order so two writers never deadlock) from the journal entry
to the vector cleanup. A writer registers in ``writers`` and holds an advisory lock on its id for as long as
its connection lives, so journal rows whose writer's lock is free belong to a writer that died: those are the
ones ``repairing`` hands over. Comparing whole counts of Chroma and the registry only means something when no
other writer is live: a writer alone at start (it got the writers' lock exclusively) may do it.

Keyword search is BM25 as FTS5 computes it (same tokens, IDF, k1 = 1.2, b = 0.75) over a postings table. On a
large store it reads only the top of each term's postings (see ``keyword_search``); the scores it returns are
still exact.
"""

from __future__ import annotations

import json
import math
import os
import socket
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from newsbot.corpus.errors import StoreError
from newsbot.corpus.registry import (
    CHUNK_RECORD,
    FEED_COLUMNS,
    KEYWORD_BATCH,
    UNDATED_CHUNKS,
    Feed,
    RegistryStats,
    StoredArticle,
    Watch,
    filter_sql,
)
from newsbot.corpus.schema import migrate_postgres
from newsbot.records import Article, Chunk, Filters, article_of_chunk
from newsbot.text import keyword_forms, keyword_terms, keyword_tokens

# Advisory lock class of the two-key locks: (WRITERS, 0) is held shared by every live writer (exclusively by one
# that repairs alone), (WRITERS, id) by writer ``id``. Articles take one-key locks (another key space).
WRITERS = 0x6E627772
DEAD_WRITER_WAIT = "10s"  # how long a writer waits for a dead local writer's session to end
K1, B = 1.2, 0.75  # FTS5's bm25() constants
# keyword_changes rows kept for the machines' Tantivy indexes (migration 0003): one further behind rebuilds.
KEYWORD_CHANGES_KEPT = 500_000
# BM25's term-frequency part at a typical chunk length: the order of the postings_impact index (migration 0002),
# whose expression this must repeat exactly for PostgreSQL to use it.
IMPACT = "((p.tf / (p.tf + 1.2 * (0.25 + 0.75 * p.length / 100.0)))::real)"
# The question's tokens (with how often each is asked for) weighted by their idf; BM25's collection figures.
_QUERY_TERMS = (
    "WITH q AS (SELECT token, count(*) AS times FROM unnest(%s::text[]) token GROUP BY token), "
    "totals AS (SELECT greatest(chunks, 1)::float8 AS n, greatest(tokens, 1)::float8 / greatest(chunks, 1) AS avgdl "
    "FROM keyword_totals), "
    "weights AS (SELECT q.token, q.times * greatest(ln((t.n - coalesce(d.df, 0) + 0.5) / (coalesce(d.df, 0) + 0.5)), "
    "1e-6) AS weight FROM q CROSS JOIN totals t LEFT JOIN terms d ON d.term = q.token)"
)
# BM25 of the chunks ``p`` joined to the question's weighted terms.
_BM25 = f"sum(w.weight * p.tf * {K1 + 1} / (p.tf + {K1} * ({1 - B} + {B} * p.length / t.avgdl))) AS score"
# Chunk scores: of every match, or of the chunks scoring best on the top postings of each term (parameters: the
# depth read per term, then how many chunks are scored in full). There a candidate's postings are looked up one
# (chunk, term) at a time; the LIMIT 1 keeps PostgreSQL from turning that into a join with every posting.
EVERY_MATCH = (
    f"scored AS (SELECT p.chunk, {_BM25} FROM weights w JOIN postings p ON p.term = w.token CROSS JOIN totals t "
    "GROUP BY p.chunk)"
)
TOP_OF_EACH_TERM = (
    f"matches AS (SELECT p.chunk FROM weights w CROSS JOIN LATERAL (SELECT p.chunk, {IMPACT} AS impact "
    f"FROM postings p WHERE p.term = w.token ORDER BY {IMPACT} DESC LIMIT %s) p "
    "GROUP BY p.chunk ORDER BY sum(w.weight * p.impact) DESC, p.chunk LIMIT %s), "
    f"scored AS (SELECT m.chunk, {_BM25} FROM matches m CROSS JOIN weights w CROSS JOIN totals t "
    "CROSS JOIN LATERAL (SELECT p.tf, p.length FROM postings p WHERE p.chunk = m.chunk AND p.term = w.token LIMIT 1) p "
    "GROUP BY m.chunk)"
)


class PostgresRegistry:
    """One connection, shared by the threads of a process under a lock. ``writer``: register as a writer."""

    # On a large store (see keyword_search): postings read per question term, best first (this share of the
    # chunks, at least keyword_depth), and chunks scored in full.
    keyword_depth = 2000
    keyword_depth_share = 0.01
    keyword_pool = 1000
    exact_df_limit = 20_000  # postings up to which a term's forms are counted exactly (idf)

    def __init__(self, dsn: str, *, writer: bool = False) -> None:
        parts = conninfo_to_dict(dsn)
        self.location = (
            f"postgresql://{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"
        )
        self._lock = threading.RLock()
        try:
            self._db = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL at {self.location} cannot be reached: {_reason(exc)}") from None
        migrate_postgres(self._db)
        self._writer: int | None = None
        self._alone = False
        if writer:
            self._register()

    def close(self) -> None:
        with self._lock:
            if self._db.broken:
                self._db.close()  # the server went away: its session, and this writer's locks, are gone too
                return
            if self._writer is not None and not self._rows("SELECT 1 FROM pending WHERE writer = %s", (self._writer,)):
                self._db.execute("DELETE FROM writers WHERE id = %s", (self._writer,))
            self._db.close()

    # -- sessions, locks ----------------------------------------------------------------------------------
    def _register(self) -> None:
        row = self._rows(
            "INSERT INTO writers (host, pid, started) VALUES (%s, %s, %s) RETURNING id",
            (socket.gethostname(), os.getpid(), _now()),
        )
        self._writer = row[0][0]
        self._rows("SELECT pg_advisory_lock(%s, %s)", (WRITERS, self._writer))
        self._alone = self._try_alone()
        if not self._alone:
            self._rows("SELECT pg_advisory_lock_shared(%s, 0)", (WRITERS,))

    def _try_alone(self) -> bool:
        """Take the writers' lock exclusively if no other writer is live; a local writer whose process is gone
        but whose session has not ended yet is waited for."""
        if self._one("SELECT pg_try_advisory_lock(%s, 0)", (WRITERS,)):
            return True
        host = socket.gethostname()
        others = self._rows("SELECT id, pid FROM writers WHERE host = %s AND id <> %s", (host, self._writer))
        gone = [wid for wid, pid in others if not _process_alive(pid)]
        if not gone:
            return False
        try:
            with self._lock, self._db.transaction():
                self._db.execute(f"SET LOCAL lock_timeout = '{DEAD_WRITER_WAIT}'")
                for wid in gone:
                    self._db.execute("SELECT pg_advisory_xact_lock(%s, %s)", (WRITERS, wid))
        except psycopg.errors.LockNotAvailable:
            return False
        return bool(self._one("SELECT pg_try_advisory_lock(%s, 0)", (WRITERS,)))

    @contextmanager
    def repairing(self) -> Iterator[tuple[list[tuple[str, str]], bool]]:
        """The journal rows of writers that died, their articles locked, and whether this writer is alone (then
        every registered writer but this one is dead). The rows and dead writers go when the block ends."""
        self._require_writer()
        others = [r[0] for r in self._rows("SELECT id FROM writers WHERE id <> %s ORDER BY id", (self._writer,))]
        dead = [wid for wid in others if self._one("SELECT pg_try_advisory_lock(%s, %s)", (WRITERS, wid))]
        try:
            rows = self._rows("SELECT chunk_id, op FROM pending WHERE writer = ANY(%s)", (dead,))
            with self.articles_locked([article_of_chunk(cid) for cid, _ in rows]):
                yield [(cid, op) for cid, op in rows], self._alone
                with self._transaction() as db:
                    db.execute("DELETE FROM pending WHERE writer = ANY(%s)", (dead,))
                    db.execute("DELETE FROM writers WHERE id = ANY(%s)", (dead,))
        finally:
            for wid in dead:
                self._rows("SELECT pg_advisory_unlock(%s, %s)", (WRITERS, wid))
            if self._alone:
                self._alone = False
                self._rows("SELECT pg_advisory_unlock(%s, 0)", (WRITERS,))
                self._rows("SELECT pg_advisory_lock_shared(%s, 0)", (WRITERS,))

    @contextmanager
    def articles_locked(self, article_ids: Sequence[str]) -> Iterator[None]:
        """Hold these articles against other writers (and repairs) for the block."""
        keys = sorted(set(article_ids))
        with self._lock:
            for key in keys:
                self._db.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (key,))
            try:
                yield
            finally:
                for key in keys:
                    self._db.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (key,))

    def _require_writer(self) -> int:
        if self._writer is None:
            raise StoreError(f"the registry at {self.location} was opened read-only")
        return self._writer

    # -- plumbing -----------------------------------------------------------------------------------------
    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock, self._calling():
            cursor = self._db.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self._rows(sql, params)
        return rows[0][0] if rows else None

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection]:
        with self._lock, self._calling(), self._db.transaction():
            yield self._db

    @contextmanager
    def _calling(self) -> Iterator[None]:
        try:
            yield
        except psycopg.OperationalError as exc:
            raise StoreError(f"PostgreSQL at {self.location}: {_reason(exc)}") from exc

    # -- metadata -------------------------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        return dict(self._rows("SELECT key, value FROM meta"))

    def set_meta(self, values: dict[str, str]) -> None:
        with self._transaction() as db, db.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                list(values.items()),
            )

    # -- lookups --------------------------------------------------------------------------------------
    def text_hash_of(self, article_id: str) -> str | None:
        return self._one("SELECT text_hash FROM articles WHERE id = %s", (article_id,))

    def article_with_text(self, text_hash: str) -> str | None:
        return self._one("SELECT id FROM articles WHERE text_hash = %s ORDER BY id LIMIT 1", (text_hash,))

    def alias_target(self, key: str) -> str | None:
        return self._one("SELECT article_id FROM aliases WHERE key = %s", (key,))

    def article(self, article_id: str) -> StoredArticle | None:
        rows = self._rows(
            "SELECT id, title, source, published, url, dateline, origin, text, text_hash FROM articles WHERE id = %s",
            (article_id,),
        )
        return StoredArticle(*rows[0]) if rows else None

    def article_ids(self, source: str | None = None) -> list[str]:
        if source is None:
            return [r[0] for r in self._rows("SELECT id FROM articles ORDER BY id")]
        return [r[0] for r in self._rows("SELECT id FROM articles WHERE source = %s ORDER BY id", (source,))]

    def published_after(self, day: str) -> list[str]:
        return [r[0] for r in self._rows("SELECT id FROM articles WHERE published > %s ORDER BY id", (day,))]

    def newest_titles(self, limit: int) -> list[str]:
        sql = "SELECT title FROM articles WHERE published IS {} ORDER BY published DESC, id DESC LIMIT %s"
        dated = [r[0] for r in self._rows(sql.format("NOT NULL"), (limit,))]
        return dated + [r[0] for r in self._rows(sql.format("NULL"), (limit - len(dated),))]

    def undated_chunk_ids(self) -> list[str]:
        return [r[0] for r in self._rows(UNDATED_CHUNKS)]

    def chunks_of(self, article_id: str) -> list[Chunk]:
        article = self.article(article_id)
        if article is None:
            return []
        rows = self._rows('SELECT id, seq, start, "end" FROM chunks WHERE article_id = %s ORDER BY seq', (article_id,))
        return [Chunk(cid, article_id, seq, s, e, article.text[s:e]) for cid, seq, s, e in rows]

    def chunk_records(self, chunk_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        rows = self._rows(
            'SELECT c.id, c.article_id, c.seq, c.start, c."end", substr(a.text, c.start + 1, c."end" - c.start), '
            "a.title, a.source, a.published, a.url FROM chunks c JOIN articles a ON a.id = c.article_id "
            "WHERE c.id = ANY(%s)",
            (list(chunk_ids),),
        )
        return {row[0]: dict(zip(CHUNK_RECORD, row, strict=True)) for row in rows}

    def chunk_count(self) -> int:
        return self._one("SELECT count(*) FROM chunks")

    def chunk_ids(self) -> set[str]:
        return {r[0] for r in self._rows("SELECT id FROM chunks")}

    def chunks_for_embedding(self, chunk_ids: Sequence[str]) -> list[tuple[Chunk, str, str, str | None]]:
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
        """(chunk id, BM25 score) of the chunks best matching any word of ``query``, best first: FTS5's bm25()
        over the same tokens (a term asked for twice, as a form of two words, counts twice there too).

        Scoring every posting of a question's terms grows with the store (about a second at a million chunks),
        so when the terms hold more postings than ``keyword_pool``, only each term's best postings are read (1% of
        the chunks, at least ``keyword_depth``); the ``keyword_pool`` chunks scoring best on those are scored in
        full, and the best that pass the filters are returned. A chunk whose every term sits below its term's
        top rarely scores among the best of a large store; when fewer than ``limit`` pass the filters, every
        match is scored."""
        terms = keyword_terms(query)
        tokens = [token for term in terms for token in _query_tokens(term)]
        if not tokens:
            return []
        conditions, params = filter_sql(filters or Filters(), "%s")
        found: list[tuple[str, float]] = []
        ((postings, chunks),) = self._rows(
            "SELECT coalesce(sum(df), 0)::bigint, (SELECT chunks FROM keyword_totals) FROM terms WHERE term = ANY(%s)",
            (tokens,),
        )
        if postings > self.keyword_pool:
            depth = (tokens, max(self.keyword_depth, int(self.keyword_depth_share * chunks)), self.keyword_pool)
            found = self._scored(TOP_OF_EACH_TERM, conditions, depth, params, limit)
        if len(found) < limit:
            found = self._scored(EVERY_MATCH, conditions, (tokens,), params, limit)
        return found

    def _scored(
        self, scored: str, conditions: str, args: Sequence[Any], params: Sequence[Any], limit: int
    ) -> list[tuple[str, float]]:
        rows = self._rows(keyword_sql(scored, conditions), (*args, *params, limit))
        return [(cid, float(score)) for cid, score in rows]

    def idf(self, terms: Iterable[str]) -> dict[str, float]:
        """BM25-style inverse document frequency of each term (with its irregular forms) over the chunks. The
        chunks holding any form are counted when the forms are rare; when common, their frequencies are summed
        (a chunk holding two forms counts twice): counting took 150 ms for "said" at a million chunks."""
        total = self._one("SELECT chunks FROM keyword_totals")
        weights = {}
        for term in terms:
            tokens = _query_tokens(term)
            df = self._one("SELECT coalesce(sum(df), 0)::bigint FROM terms WHERE term = ANY(%s)", (tokens,))
            if len(tokens) > 1 and df <= self.exact_df_limit:  # a chunk holding two forms counts once
                df = self._one("SELECT count(DISTINCT chunk) FROM postings WHERE term = ANY(%s)", (tokens,))
            weights[term] = math.log(1 + (total - df + 0.5) / (df + 0.5))
        return weights

    # -- what a machine's Tantivy index reads (see migration 0003) ------------------------------------------
    def keyword_generation(self) -> int:
        """The highest change number committed: what an index in step has applied."""
        return self._one("SELECT coalesce(max(seq), 0) FROM keyword_changes")

    def keyword_changes(self, after: int) -> list[int] | None:
        """The rowids of the chunks added or removed since generation ``after`` (possibly some committed after the
        generation was read: applying a chunk's current state twice is harmless); None when some were trimmed
        already or ``after`` is from another database (the index must then be rebuilt)."""
        trimmed = int(self.meta().get("keyword_trimmed", "0"))
        if after < trimmed or after > self.keyword_generation():
            return None
        return [r[0] for r in self._rows("SELECT DISTINCT row FROM keyword_changes WHERE seq > %s", (after,))]

    def trim_keyword_changes(self, upto: int) -> None:
        """Forget the changes up to ``upto`` that are also older than the newest ``KEYWORD_CHANGES_KEPT``: other
        machines' indexes may not have applied them yet."""
        with self._transaction() as db:
            cut = min(upto, db.execute("SELECT coalesce(max(seq), 0) FROM keyword_changes").fetchone()[0])
            cut -= KEYWORD_CHANGES_KEPT
            if cut > 0 and db.execute("DELETE FROM keyword_changes WHERE seq <= %s", (cut,)).rowcount:
                db.execute(
                    "UPDATE meta SET value = greatest(value::bigint, %s)::text WHERE key = 'keyword_trimmed'", (cut,)
                )

    def keyword_documents(self, rows: Sequence[int] | None = None) -> Iterator[list[tuple[Any, ...]]]:
        """(rowid, text, article id, source, published) of the given chunk rowids that exist (None: every
        chunk), in batches."""
        select = 'SELECT rowid, article_id, start, "end" FROM chunks'
        if rows is None:
            last = 0
            while batch := self._rows(f"{select} WHERE rowid > %s ORDER BY rowid LIMIT %s", (last, KEYWORD_BATCH)):
                yield self._with_texts(batch)
                last = batch[-1][0]
            return
        for lo in range(0, len(rows), KEYWORD_BATCH):
            part = list(rows[lo : lo + KEYWORD_BATCH])
            yield self._with_texts(self._rows(f"{select} WHERE rowid = ANY(%s)", (part,)))

    def _with_texts(self, chunks: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """(rowid, text, article id, source, published) of (rowid, article id, start, end) rows: each article read
        once and cut here (a substr per chunk in SQL decompresses the whole article text every time)."""
        articles = {
            row[0]: row[1:]
            for row in self._rows(
                "SELECT id, text, source, published FROM articles WHERE id = ANY(%s)",
                (sorted({article for _, article, _, _ in chunks}),),
            )
        }
        return [
            (rowid, text[start:end], article, source, published)
            for rowid, article, start, end in chunks
            if article in articles
            for text, source, published in (articles[article],)
        ]

    def chunk_ids_passing(self, ranked: list[tuple[int, float]], filters: Filters) -> list[tuple[str, float]]:
        """(chunk id, score) of ranked (rowid, score) pairs whose chunk exists and passes the filters, in order."""
        if not ranked:
            return []
        conditions, params = filter_sql(filters, "%s")
        ids = dict(
            self._rows(
                "SELECT c.rowid, c.id FROM chunks c JOIN articles a ON a.id = c.article_id "
                f"WHERE c.rowid = ANY(%s) {conditions}",
                ([row for row, _ in ranked], *params),
            )
        )
        return [(ids[row], score) for row, score in ranked if row in ids]

    def stats(self) -> RegistryStats:
        articles, first, last = self._rows("SELECT count(*), min(published), max(published) FROM articles")[0]
        sources = dict(
            self._rows("SELECT source, count(*) FROM articles GROUP BY source ORDER BY count(*) DESC, source")
        )
        return RegistryStats(articles, self.chunk_count(), sources, first, last)

    def size_bytes(self) -> int:
        """The database's size on the server (the registry's share of a deployment's disk; vectors are Chroma's)."""
        return self._one("SELECT pg_database_size(current_database())")

    def problems(self) -> list[str]:
        """Inconsistencies inside the registry (none is expected: every write is one transaction)."""
        checks = {
            "chunks without a keyword entry": "SELECT count(*) FROM chunks c "
            "WHERE NOT EXISTS (SELECT 1 FROM postings p WHERE p.chunk = c.rowid)",
            "articles without chunks": "SELECT count(*) FROM articles a "
            "WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.article_id = a.id)",
            "chunks outside their article": "SELECT count(*) FROM chunks c JOIN articles a ON a.id = c.article_id "
            'WHERE c.start < 0 OR c."end" > length(a.text) OR c.start >= c."end"',
            "keyword totals out of step": "SELECT count(*) FROM keyword_totals t, (SELECT count(*) AS chunks, "
            "coalesce(sum(length), 0) AS tokens FROM chunks) c WHERE t.chunks <> c.chunks OR t.tokens <> c.tokens",
            "keyword terms out of step": "SELECT count(*) FROM terms d FULL JOIN (SELECT term, count(*) AS df "
            "FROM postings GROUP BY term) p USING (term) WHERE d.df IS DISTINCT FROM p.df",
            "unfinished journal entries": "SELECT count(*) FROM pending",
        }
        found = [(name, self._one(sql)) for name, sql in checks.items()]
        return [f"{count} {name}" for name, count in found if count]

    # -- writes ---------------------------------------------------------------------------------------
    def journal_adds(self, chunk_ids: Sequence[str]) -> None:
        writer = self._require_writer()
        with self._transaction() as db, db.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO pending (writer, chunk_id, op) VALUES (%s, %s, 'add') "
                "ON CONFLICT (writer, chunk_id) DO UPDATE SET op = 'add'",
                [(writer, cid) for cid in chunk_ids],
            )

    def commit_articles(self, batch: Sequence[tuple[Article, Sequence[Chunk]]]) -> list[str]:
        """Store articles with their chunks and postings, replacing earlier versions, in one transaction. Returns
        the chunk ids of replaced versions that the new ones do not reuse, journalled for removal from Chroma."""
        writer = self._require_writer()
        chunks = [chunk for _, article_chunks in batch for chunk in article_chunks]
        counts = keyword_tokens([chunk.text for chunk in chunks])
        lengths = [sum(found.values()) for found in counts]
        now = _now()
        with self._transaction() as db:
            _serialize_writes(db)
            dropped, dropped_rows, held = self._drop_chunks(db, [article.id for article, _ in batch])
            with db.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO articles (id, key, title, source, published, url, dateline, origin, text, text_hash, "
                    "ingested_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
                    "key = excluded.key, title = excluded.title, source = excluded.source, "
                    "published = excluded.published, url = excluded.url, dateline = excluded.dateline, "
                    "origin = excluded.origin, text = excluded.text, text_hash = excluded.text_hash, "
                    "ingested_at = excluded.ingested_at",
                    [
                        (
                            a.id,
                            a.key,
                            a.title,
                            a.source,
                            a.published,
                            a.url,
                            a.dateline,
                            a.origin,
                            a.text,
                            a.text_hash,
                            now,
                        )
                        for a, _ in batch
                    ],
                )
            rowids = dict(
                db.execute(
                    'INSERT INTO chunks (id, article_id, seq, start, "end", length) '
                    "SELECT * FROM unnest(%s::text[], %s::text[], %s::int[], %s::int[], %s::int[], %s::int[]) "
                    "RETURNING id, rowid",
                    (
                        [c.id for c in chunks],
                        [c.article_id for c in chunks],
                        [c.seq for c in chunks],
                        [c.start for c in chunks],
                        [c.end for c in chunks],
                        lengths,
                    ),
                ).fetchall()
            )
            _log_keyword_changes(db, [*dropped_rows, *rowids.values()])
            with db.cursor() as cursor, cursor.copy("COPY postings (term, chunk, tf, length) FROM STDIN") as copy:
                for chunk, found, length in zip(chunks, counts, lengths, strict=True):
                    for term, tf in found.items():
                        copy.write_row((term, rowids[chunk.id], tf, length))
            change: Counter[str] = Counter()
            for found in counts:
                change.update(found.keys())
            change.subtract(held)
            self._count_terms(db, change)
            new_ids = set(rowids)
            replaced = [cid for cid in dropped if cid not in new_ids]
            self._journal_deletes(db, writer, replaced)
            db.execute(
                "DELETE FROM pending WHERE writer = %s AND op = 'add' AND chunk_id = ANY(%s)", (writer, list(new_ids))
            )
            db.execute(
                "UPDATE keyword_totals SET chunks = chunks + %s, tokens = tokens + %s", (len(chunks), sum(lengths))
            )
        return replaced

    def add_alias(self, key: str, article_id: str, url: str | None) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO aliases (key, article_id, url) VALUES (%s, %s, %s) "
                "ON CONFLICT (key) DO UPDATE SET article_id = excluded.article_id, url = excluded.url",
                (key, article_id, url),
            )

    def delete_articles(self, article_ids: Sequence[str]) -> list[str]:
        writer = self._require_writer()
        with self._transaction() as db:
            _serialize_writes(db)
            removed, removed_rows, held = self._drop_chunks(db, article_ids)
            _log_keyword_changes(db, removed_rows)
            self._count_terms(db, Counter({term: -n for term, n in held.items()}))
            db.execute("DELETE FROM articles WHERE id = ANY(%s)", (list(article_ids),))
            self._journal_deletes(db, writer, removed)
        return removed

    def clear_pending(self, chunk_ids: Iterable[str]) -> None:
        """This writer's journal rows for these chunks are done."""
        writer = self._require_writer()
        with self._transaction() as db:
            db.execute("DELETE FROM pending WHERE writer = %s AND chunk_id = ANY(%s)", (writer, list(chunk_ids)))

    @staticmethod
    def _drop_chunks(db: psycopg.Connection, article_ids: Sequence[str]) -> tuple[list[str], list[int], Counter[str]]:
        """Remove the chunks (and postings) of these articles; returns their ids, their rowids and how many of
        them held each term (to take off the terms' document frequencies)."""
        held = Counter(
            term
            for (term,) in db.execute(
                "DELETE FROM postings WHERE chunk IN (SELECT rowid FROM chunks WHERE article_id = ANY(%s)) "
                "RETURNING term",
                (list(article_ids),),
            )
        )
        rows = db.execute(
            "DELETE FROM chunks WHERE article_id = ANY(%s) RETURNING id, length, rowid", (list(article_ids),)
        ).fetchall()
        if rows:
            db.execute(
                "UPDATE keyword_totals SET chunks = chunks - %s, tokens = tokens - %s",
                (len(rows), sum(length for _, length, _ in rows)),
            )
        return [cid for cid, _, _ in rows], [rowid for _, _, rowid in rows], held

    @staticmethod
    def _count_terms(db: psycopg.Connection, change: Counter[str]) -> None:
        """Add ``change`` to the terms' document frequencies. The rows are locked in term order, so two writers
        updating overlapping terms wait for each other instead of deadlocking; hence one call per transaction."""
        changed = sorted((term, n) for term, n in change.items() if n)
        if not changed:
            return
        terms, counts = [term for term, _ in changed], [n for _, n in changed]
        db.execute(
            "INSERT INTO terms (term, df) SELECT * FROM unnest(%s::text[], %s::bigint[]) ORDER BY 1 "
            "ON CONFLICT (term) DO UPDATE SET df = terms.df + excluded.df",
            (terms, counts),
        )
        db.execute("DELETE FROM terms WHERE term = ANY(%s) AND df <= 0", (terms,))

    @staticmethod
    def _journal_deletes(db: psycopg.Connection, writer: int, chunk_ids: Sequence[str]) -> None:
        with db.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO pending (writer, chunk_id, op) VALUES (%s, %s, 'delete') "
                "ON CONFLICT (writer, chunk_id) DO UPDATE SET op = 'delete'",
                [(writer, cid) for cid in chunk_ids],
            )

    # -- feeds --------------------------------------------------------------------------------------------
    def feeds(self) -> list[Feed]:
        return [Feed(*row) for row in self._rows(f"SELECT {', '.join(FEED_COLUMNS)} FROM feeds ORDER BY url")]

    def add_feed(self, url: str, every: float, source: str) -> bool:
        with self._transaction() as db:
            known = db.execute("SELECT 1 FROM feeds WHERE url = %s FOR UPDATE", (url,)).fetchone() is not None
            db.execute(
                "INSERT INTO feeds (url, source, every) VALUES (%s, %s, %s) "
                "ON CONFLICT (url) DO UPDATE SET source = excluded.source, every = excluded.every",
                (url, source, every),
            )
        return not known

    def seed_feeds(self, feeds: Iterable[tuple[str, float, str]]) -> None:
        with self._transaction() as db, db.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO feeds (url, every, source) VALUES (%s, %s, %s) ON CONFLICT (url) DO NOTHING", list(feeds)
            )

    def remove_feed(self, url: str) -> bool:
        with self._transaction() as db:
            return db.execute("DELETE FROM feeds WHERE url = %s", (url,)).rowcount > 0

    def save_feed(self, feed: Feed) -> None:
        columns = FEED_COLUMNS[1:]
        with self._transaction() as db:
            db.execute(
                f"UPDATE feeds SET {', '.join(f'{c} = %s' for c in columns)} WHERE url = %s",
                (*(getattr(feed, c) for c in columns), feed.url),
            )

    # -- watched questions ----------------------------------------------------------------------------------
    def watches(self, chat_id: int | None = None, *, every_chat: bool = False) -> list[Watch]:
        sql = "SELECT id, chat_id, question, seen FROM watches"
        rows = (
            self._rows(f"{sql} ORDER BY id")
            if every_chat
            else self._rows(f"{sql} WHERE chat_id IS NOT DISTINCT FROM %s ORDER BY id", (chat_id,))
        )
        return [Watch(i, chat, question, frozenset(json.loads(seen))) for i, chat, question, seen in rows]

    def add_watch(self, chat_id: int | None, question: str, seen: Iterable[str], cap: int) -> Watch | None:
        seen = frozenset(seen)
        with self._transaction() as db:
            db.execute("LOCK TABLE watches IN SHARE ROW EXCLUSIVE MODE")  # the cap holds across processes
            held = db.execute("SELECT count(*) FROM watches WHERE chat_id IS NOT DISTINCT FROM %s", (chat_id,))
            if held.fetchone()[0] >= cap:
                return None
            new_id = db.execute(
                "INSERT INTO watches (chat_id, question, seen, created) VALUES (%s, %s, %s, %s) RETURNING id",
                (chat_id, question, json.dumps(sorted(seen)), _now()),
            ).fetchone()[0]
        return Watch(new_id, chat_id, question, seen)

    def remove_watch(self, watch_id: int) -> None:
        self._rows("DELETE FROM watches WHERE id = %s", (watch_id,))

    def set_seen(self, watch_id: int, seen: Iterable[str]) -> None:
        self._rows("UPDATE watches SET seen = %s WHERE id = %s", (json.dumps(sorted(seen)), watch_id))

    def articles_marker(self) -> tuple[int, str | None]:
        count, latest = self._rows("SELECT count(*), max(ingested_at) FROM articles")[0]
        return count, latest


def keyword_sql(scored: str, conditions: str) -> str:
    """The keyword query: the best chunks of ``scored`` (``EVERY_MATCH``, ``TOP_OF_EACH_TERM``) that pass the
    filter ``conditions``; its parameters: the tokens, ``scored``'s own, the conditions', the limit."""
    return (
        f"{_QUERY_TERMS}, {scored} SELECT c.id, s.score FROM scored s JOIN chunks c ON c.rowid = s.chunk "
        f"JOIN articles a ON a.id = c.article_id WHERE TRUE {conditions} ORDER BY s.score DESC, s.chunk LIMIT %s"
    )


def _query_tokens(term: str) -> list[str]:
    """The index tokens FTS5 would look for to match ``term``: one phrase per form (a phrase of several tokens,
    rare with \\w+ words, is asked for token by token)."""
    return [token for found in keyword_tokens(keyword_forms(term)) for token in found]


def _log_keyword_changes(db: psycopg.Connection, rowids: Sequence[int]) -> None:
    """Log chunk rowids added or removed (inside a transaction that began with ``_serialize_writes``)."""
    if rowids:
        db.execute("INSERT INTO keyword_changes (row) SELECT unnest(%s::bigint[])", (list(rowids),))


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reason(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _serialize_writes(db: psycopg.Connection) -> None:
    """Lock the one totals row first: every transaction that stores or removes chunks updates it, so they run one
    after another, and none can hold rows (articles, terms) that another holding the totals waits for. Without it
    two ingests of overlapping inputs deadlocked (the one that replaced chunks updated the totals early)."""
    db.execute("SELECT 1 FROM keyword_totals FOR UPDATE")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
