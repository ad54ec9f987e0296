"""The store: registry + keyword index (SQLite file, or PostgreSQL with ``store.backend: postgres``) and vectors
(Chroma), kept consistent across crashes.

Write protocol for a batch of articles (each step durable before the next; the articles held against other
writers throughout: SQLite's file lock, PostgreSQL's per-article advisory locks):
  1. journal the new chunk ids as pending adds;
  2. upsert their vectors into Chroma;
  3. in one registry transaction: the articles, chunks and keyword entries, replaced chunks journalled as
     pending deletes, the pending adds cleared;
  4. delete replaced vectors from Chroma, then clear those journal rows.
A kill at any point leaves either journalled vectors that ``repair`` removes, or nothing to do. ``repair``
also compares counts (when no other writer is live) and, if Chroma lost or kept vectors on its own, re-syncs
it from the registry.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import numpy as np

from newsbot.corpus.embedder import Encoder, load_embedder
from newsbot.corpus.errors import ModelMismatchError, StoreError
from newsbot.corpus.postgres_registry import PostgresRegistry
from newsbot.corpus.registry import Feed, Registry, SQLiteRegistry, StoredArticle, Watch
from newsbot.corpus.tantivy_index import TantivyIndex, keeper_lock
from newsbot.corpus.vectors import VectorIndex, chunk_metadata
from newsbot.records import Article, Chunk, Filters, Passage, article_id, article_of_chunk
from newsbot.settings import Settings, postgres_dsn

REGISTRY_FILE = "registry.sqlite3"
LOCK_FILE = "write.lock"
LOCK_POLL_SECONDS = 0.2
DELETE_BATCH = 500  # articles removed per transaction (PostgreSQL: advisory locks held at once stay few)
# meta key: "1" once every vector carries its article's day (undated: 0), so an as-of question compares days
VECTOR_DAYS = "vector_days"
DATING_BATCH = 5000  # undated chunks given day 0 at a time
OVERFETCH = 3  # an as-of question's dense search asks for this many times k unfiltered (see dense_search)
KEEPER_PAUSE = 1.0  # seconds at least between two rounds of a server-profile keyword index's upkeep

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RepairReport:
    vectors_removed: int
    vectors_restored: int


class Store:
    """The one read and write API of the corpus; the registry, the vectors and the model are its private parts.
    With ``store.backend: postgres`` the registry is the server's (any number of writers, no file lock) and
    ``store.path`` holds only this machine's Tantivy keyword index.

    ``encoder`` replaces the configured model (fast tests use a small deterministic one); a store remembers
    which model built it and refuses another.
    """

    def __init__(
        self,
        config: Settings,
        *,
        write: bool = False,
        encoder: Encoder | None = None,
        wait: float = 0.0,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        """``wait``: seconds a writer waits for another process's write to finish (``on_wait`` hears why)."""
        self.config = config
        self.path = Path(config.store.path)
        self._writable = write
        self._lock: IO[str] | None = None
        self._registry: Registry
        self._keywords: TantivyIndex | None = None
        self._keeper: IO[str] | None = None  # server profile: this machine's keyword index is ours to write
        self._upkeep: threading.Thread | None = None
        self._closing = threading.Event()
        if config.store.backend == "postgres":
            self._registry = PostgresRegistry(postgres_dsn(), writer=write)
            self.location = self._registry.location
            if config.store.uses_tantivy:
                self._keywords = TantivyIndex(self.path, self._registry, write=False)
                self._keeper = keeper_lock(self._keywords.folder)
                if self._keeper is not None:
                    self._keywords.take_over()
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            self._lock = _acquire_write_lock(self.path, wait, on_wait) if write else None
            self._registry = SQLiteRegistry(self.path / REGISTRY_FILE)
            self.location = str(self.path)
            if config.store.uses_tantivy:
                self._keywords = TantivyIndex(self.path, self._registry, write=write)
        self._model_name = encoder.name if encoder is not None else config.embedding.model
        self._check_model_name()
        self._vectors = VectorIndex(config.store, self._model_name)
        self._vectors_lock = threading.Lock()
        self._seen_version = self._keywords_version = self._data_version()
        self._checked_at = time.monotonic()
        self._keywords_checked_at = -float("inf")  # PostgreSQL: the first question catches up
        self._encoder = encoder
        self._model_checked = False
        self.last_repair = self.repair() if write else RepairReport(0, 0)
        if write:
            self._date_undated_vectors()
        self._days_compared = False  # read at the first question that needs it (``_vectors_dated``)

    def close(self) -> None:
        self._closing.set()
        if self._keywords is not None:
            self._keywords.close()
        if self._upkeep is not None:
            self._upkeep.join()
        self._vectors.close()
        self._registry.close()
        for held in (self._lock, self._keeper):
            if held is not None:
                held.close()
        self._lock = self._keeper = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def writing(self) -> Iterator[Store]:
        """A writable store on the same folder and model, for the block: a long-lived reader (the bot) ingests
        through it. Its own registry connection keeps the write transactions apart from concurrent reads.
        Raises StoreError when another process is writing."""
        with Store(self.config, write=True, encoder=self._encoder) as writer:
            yield writer

    # -- the model ------------------------------------------------------------------------------------
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised vectors of ``texts`` from the store's model (cosine similarity is a dot product)."""
        return self._model().encode(texts)

    def int8_encoder(self, calibration: Sequence[str]) -> Callable[[Sequence[str]], np.ndarray]:
        """The model in int8 where it runs on OpenVINO (faster, vectors slightly off the stored ones: for scoring
        texts against each other, as the answer scores a question's sentences), else ``encode``."""
        return self._model().int8_encoder(calibration)

    def warm_up(self) -> None:
        """Load the model now rather than inside the first question's timings."""
        self.encode(["warm up"])

    @property
    def model_runtime(self) -> str:
        """How the model runs, e.g. ``openvino-bf16`` (benchmarks label their figures with it)."""
        return self._model().runtime

    def _model(self) -> Encoder:
        """The configured model, loaded on first use and checked against the one the store was built with."""
        if self._encoder is None:
            self._encoder = load_embedder(self.config.embedding)
        if not self._model_checked:
            recorded = self._registry.meta()
            dimension = self._encoder.dimension
            if "embedding_dimension" in recorded and int(recorded["embedding_dimension"]) != dimension:
                raise ModelMismatchError(
                    f"store {self.location} holds {recorded['embedding_dimension']}-dimensional vectors, but "
                    f"embedding.model {self._encoder.name!r} makes {dimension}-dimensional ones"
                )
            if not recorded.get("embedding_model"):
                self._registry.set_meta({"embedding_model": self._encoder.name, "embedding_dimension": str(dimension)})
            self._model_checked = True
        return self._encoder

    def _check_model_name(self) -> None:
        recorded = self._registry.meta().get("embedding_model")
        if recorded and recorded != self._model_name:
            raise ModelMismatchError(
                f"store {self.location} was built with embedding model {recorded!r}, but embedding.model is "
                f"{self._model_name!r}; use that model, or another store.path for a new index"
            )

    def embedding_text(self, chunk: Chunk, title: str) -> str:
        return f"{title}\n{chunk.text}" if self.config.embedding.title_prefix and title else chunk.text

    # -- writes ---------------------------------------------------------------------------------------
    def add(self, batch: Sequence[tuple[Article, Sequence[Chunk]]]) -> tuple[int, int]:
        """Store new or changed articles with their chunks. Returns (chunks added, chunks replaced)."""
        self._require_lock()
        items = [(c, a.title, a.source, a.published) for a, article_chunks in batch for c in article_chunks]
        if not items:
            return 0, 0
        with self._registry.articles_locked([article.id for article, _ in batch]):
            self._registry.journal_adds([chunk.id for chunk, *_ in items])
            self._write_vectors(items)
            replaced = self._registry.commit_articles(batch)
            self._drop_vectors(replaced)
            self._sync_keywords()
        return len(items), len(replaced)

    def add_alias(self, article: Article, existing_id: str) -> None:
        self._require_lock()
        self._registry.add_alias(article.key, existing_id, article.url)

    def delete(self, article_ids: Sequence[str]) -> int:
        """Remove articles and everything derived from them, ``DELETE_BATCH`` at a time (each batch one
        transaction, its articles locked). Returns the number of chunks removed."""
        self._require_lock()
        removed = 0
        for lo in range(0, len(article_ids), DELETE_BATCH):
            batch = article_ids[lo : lo + DELETE_BATCH]
            with self._registry.articles_locked(batch):
                chunk_ids = self._registry.delete_articles(batch)
                self._drop_vectors(chunk_ids)
                self._sync_keywords()
            removed += len(chunk_ids)
        return removed

    def copy_from(self, source: Store, batch_articles: int = 100) -> None:
        """Copy an embedded (SQLite) store's articles, chunks, aliases, feeds, watched questions and vectors as
        they are, nothing re-embedded, through the write protocol. Refuses a store that holds other articles
        (one that holds exactly the same ones is re-checked, a re-run finishing a copy that was cut short)."""
        self._require_lock()
        exporter = source._registry
        if not isinstance(exporter, SQLiteRegistry):
            raise StoreError(f"store {source.location} is not a SQLite store: nothing to migrate from")
        held, wanted = set(self.article_ids()), set(source.article_ids())
        if not held <= wanted:
            raise StoreError(
                f"store {self.location} already holds {len(held - wanted)} articles that {source.location} does "
                "not; migrate into an empty database"
            )
        recorded = exporter.meta()
        self._registry.set_meta({k: recorded[k] for k in ("embedding_model", "embedding_dimension") if k in recorded})
        for batch in exporter.export_articles(batch_articles):
            batch = [(a, chunks) for a, chunks in batch if self._registry.text_hash_of(a.id) != a.text_hash]
            ids = [chunk.id for _, chunks in batch for chunk in chunks]
            if not ids:
                continue
            vectors, metadatas = source._vectors.records(ids)
            for meta in metadatas:  # a store written before undated chunks carried day 0
                meta.setdefault("published_day", 0)
            with self._registry.articles_locked([article.id for article, _ in batch]):
                self._registry.journal_adds(ids)
                self._vectors.upsert(ids, vectors, metadatas)
                self._drop_vectors(self._registry.commit_articles(batch))
        for key, target, url in exporter.aliases():
            self._registry.add_alias(key, target, url)
        self._registry.seed_feeds((feed.url, feed.every, feed.source) for feed in exporter.feeds())
        for feed in exporter.feeds():
            self._registry.save_feed(feed)
        known = {(w.chat_id, w.question) for w in self._registry.watches(every_chat=True)}
        for watch in exporter.watches(every_chat=True):
            if (watch.chat_id, watch.question) not in known:
                self._registry.add_watch(watch.chat_id, watch.question, watch.seen, cap=sys.maxsize)
        self._sync_keywords()

    def repair(self) -> RepairReport:
        """Finish or undo whatever a killed writer left half done: its journalled vectors whose chunks are not
        stored go (a chunk stored again since, by any writer, keeps its vector). Alone, also re-sync Chroma
        with the registry if their counts differ. The Tantivy keyword index catches up with the registry
        (rebuilt if it must be: minutes at a million chunks)."""
        self._require_lock()
        report = self._repair_vectors()
        self._sync_keywords()
        return report

    def _repair_vectors(self) -> RepairReport:
        with self._registry.repairing() as (pending, alone):
            if pending:
                live = self._registry.chunk_ids()
                self._vectors.delete([cid for cid, _ in pending if cid not in live])
            if not alone or self._vectors.count() == self._registry.chunk_count():
                return RepairReport(len(pending), 0)
            registry_ids, vector_ids = self._registry.chunk_ids(), self._vectors.ids()
            extra = sorted(vector_ids - registry_ids)
            self._vectors.delete(extra)
            missing = self._registry.chunks_for_embedding(sorted(registry_ids - vector_ids))
            self._write_vectors(missing)
        return RepairReport(len(pending) + len(extra), len(missing))

    def _write_vectors(self, items: Sequence[tuple[Chunk, str, str, str | None]]) -> None:
        """Embed (chunk, title, source, published) items and upsert their vectors with filterable metadata."""
        if not items:
            return
        vectors = self.encode([self.embedding_text(chunk, title) for chunk, title, _, _ in items])
        metadatas = [chunk_metadata(chunk, source, published) for chunk, _, source, published in items]
        self._vectors.upsert([chunk.id for chunk, *_ in items], vectors, metadatas)

    def _date_undated_vectors(self) -> None:
        """Give the undated chunks of a store written before they carried day 0 that day (their whole metadata,
        from the registry), so that an as-of question compares days instead of listing every article published
        after it. Once per store; a run killed midway leaves the mark unset, and the next writer does it again."""
        if self._registry.meta().get(VECTOR_DAYS) == "1":
            return
        ids = self._registry.undated_chunk_ids()
        for lo in range(0, len(ids), DATING_BATCH):
            items = self._registry.chunks_for_embedding(ids[lo : lo + DATING_BATCH])
            metadatas = [chunk_metadata(chunk, source, published) for chunk, _, source, published in items]
            self._vectors.set_metadata([chunk.id for chunk, *_ in items], metadatas)
        self._registry.set_meta({VECTOR_DAYS: "1"})

    def _sync_keywords(self) -> None:
        """Bring the Tantivy index in step where this process writes it (a new index if it must be: minutes at a
        million chunks, once per machine). With the registry's own engine, forget the change log instead (as far
        as the registry lets: PostgreSQL keeps it for other machines): an index made later finds the gap and
        rebuilds."""
        if self._keywords is None:
            self._registry.trim_keyword_changes(self._registry.keyword_generation())
        elif self._keywords.writable:
            self._keywords.sync()

    def keep_keyword_index(self) -> None:
        """Server profile, long-lived processes (the bot, the web server): keep this machine's keyword index in
        step from a background thread, building it first if there is none (questions use the registry's keyword
        search meanwhile), and take the index over when the process that kept it ends."""
        if self._keywords is None or not isinstance(self._registry, PostgresRegistry):
            return
        if self._upkeep is None:
            self._upkeep = threading.Thread(target=self._keep_keywords, name="keyword-index", daemon=True)
            self._upkeep.start()

    def _keep_keywords(self) -> None:
        assert self._keywords is not None
        pause = max(KEEPER_PAUSE, self.config.store.reopen_after)
        while not self._closing.is_set():
            try:
                if self._keeper is None and (lock := keeper_lock(self._keywords.folder)) is not None:
                    self._keeper = lock
                    self._keywords.take_over()
                if self._keeper is not None:
                    self._keywords.sync()
                else:
                    self._keywords.refresh()
            except Exception:  # the server may be away a while; questions use the registry meanwhile
                log.exception("keeping the keyword index in %s in step failed; trying again", self._keywords.folder)
            self._closing.wait(pause)

    def _drop_vectors(self, chunk_ids: Sequence[str]) -> None:
        if chunk_ids:
            self._vectors.delete(chunk_ids)
            self._registry.clear_pending(chunk_ids)

    def _require_lock(self) -> None:
        if not self._writable:
            raise StoreError(f"store {self.location} was opened read-only")

    # -- feed subscriptions (small SQLite transactions: any store may change them, no write lock needed) -----
    def feeds(self) -> list[Feed]:
        return self._registry.feeds()

    def add_feed(self, url: str, every: float, source: str = "") -> bool:
        """Subscribe to ``url`` (due at once), or change its interval and source. True when it is new."""
        return self._registry.add_feed(url, every, source)

    def seed_feeds(self, feeds: Iterable[tuple[str, float, str]]) -> None:
        """Subscribe to the (url, every, source) feeds not subscribed yet."""
        self._registry.seed_feeds(feeds)

    def remove_feed(self, url: str) -> bool:
        return self._registry.remove_feed(url)

    def save_feed(self, feed: Feed) -> None:
        """Record how a refresh went (the refresher holds the write lock)."""
        self._registry.save_feed(feed)

    # -- watched questions (small SQLite transactions, like the feeds) -------------------------------------
    def watches(self, chat_id: int | None = None, *, every_chat: bool = False) -> list[Watch]:
        """One chat's watched questions (None: the command line's), oldest first; or every chat's."""
        return self._registry.watches(chat_id, every_chat=every_chat)

    def add_watch(self, chat_id: int | None, question: str, seen: Iterable[str], cap: int) -> Watch | None:
        """Watch ``question`` with the articles its answer cites now as seen; None when ``cap`` is reached."""
        return self._registry.add_watch(chat_id, question, seen, cap)

    def remove_watch(self, watch_id: int) -> None:
        self._registry.remove_watch(watch_id)

    def set_seen(self, watch_id: int, seen: Iterable[str]) -> None:
        self._registry.set_seen(watch_id, seen)

    def articles_marker(self) -> tuple[int, str | None]:
        """A value that changes whenever any process adds, replaces or removes articles."""
        return self._registry.articles_marker()

    # -- reads ----------------------------------------------------------------------------------------
    def article(self, article_id: str) -> StoredArticle | None:
        return self._registry.article(article_id)

    def newest_titles(self, limit: int) -> list[str]:
        """The titles of the ``limit`` newest articles (by publication date; undated ones last)."""
        return self._registry.newest_titles(limit)

    def article_ids(self, source: str | None = None) -> list[str]:
        return self._registry.article_ids(source)

    def chunks_of(self, article_id: str) -> list[Chunk]:
        return self._registry.chunks_of(article_id)

    def text_hash_of(self, article_id: str) -> str | None:
        return self._registry.text_hash_of(article_id)

    def article_with_text(self, text_hash: str) -> str | None:
        """The id of a stored article with this text hash, if any."""
        return self._registry.article_with_text(text_hash)

    def alias_target(self, key: str) -> str | None:
        """The article that an identity key (a URL, a file) was recorded as a duplicate of."""
        return self._registry.alias_target(key)

    def resolve(self, key: str) -> str | None:
        """The stored article an identity key names, directly or as an alias."""
        own = article_id(key)
        return own if self._registry.article(own) is not None else self._registry.alias_target(key)

    def keyword_search(self, query: str, limit: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) of the chunks best matching any key term of ``query``, best first."""
        index = self._keyword_index()
        found = index.search(query, limit, filters or Filters()) if index is not None else None
        return found if found is not None else self._registry.keyword_search(query, limit, filters)

    def _keyword_index(self) -> TantivyIndex | None:
        """The Tantivy index when configured and whole (else the registry's own index answers), refreshed when
        another process has written the registry since it was last looked at (SQLite), or every
        ``store.reopen_after`` seconds (PostgreSQL, whose writers may be on other machines: a process that
        writes this machine's index and has no upkeep thread applies the logged changes then)."""
        if self._keywords is None:
            return None
        if isinstance(self._registry, SQLiteRegistry):
            version = self._data_version()
            if version != self._keywords_version:
                self._keywords_version = version
                self._keywords.refresh()
        elif self._upkeep is None and time.monotonic() - self._keywords_checked_at >= self.config.store.reopen_after:
            self._keywords_checked_at = time.monotonic()
            if self._keywords.writable:
                self._keywords.sync(rebuild=False)
            else:
                self._keywords.refresh()
        return self._keywords if self._keywords.ready else None

    def dense_search(self, query: str, k: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) of the ``k`` chunks nearest ``query`` in embedding space, best first."""
        return self.nearest(self.encode([query])[0], k, filters or Filters())

    def nearest(self, vector: np.ndarray, k: int, filters: Filters) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) of the ``k`` chunks nearest ``vector``, best first, filtered.

        Articles published after the as-of day do not exist yet. Chroma filters by walking every chunk the
        filter lets through (190 ms against 2 ms unfiltered, at 36k chunks), so when nothing else filters the
        question, the nearest ``OVERFETCH`` x ``k`` chunks are asked for unfiltered and the hidden ones dropped
        (on 2025q1 questions as of their days this finds more of the exact top 50 than Chroma's filtered search);
        only when too few are left does Chroma filter."""
        hidden = set(self._registry.published_after(filters.as_of)) if filters.as_of else set()
        if filters.article_ids is not None:  # one list: the allowed articles that exist as of the day
            filters = replace(filters, article_ids=filters.article_ids.difference(hidden), as_of=None)
            if not filters.article_ids:
                return []
            hidden = set()
        elif not hidden:
            filters = replace(filters, as_of=None)
        with self._vectors_lock:
            vectors = self._current_vectors()
            if hidden and replace(filters, as_of=None) == Filters():
                wider = vectors.query(vector, OVERFETCH * k, Filters())
                visible = [(cid, score) for cid, score in wider if article_of_chunk(cid) not in hidden]
                if len(visible) >= k or len(wider) < OVERFETCH * k:
                    return visible[:k]
            return vectors.query(vector, k, filters, None if self._vectors_dated() else sorted(hidden))

    def _vectors_dated(self) -> bool:
        """Whether every vector carries its day; until a writer has dated an older store's undated vectors, the
        articles published after the as-of day are listed instead (asked again each question until then)."""
        if not self._days_compared:
            self._days_compared = self._registry.meta().get(VECTOR_DAYS) == "1"
        return self._days_compared

    def _current_vectors(self) -> VectorIndex:
        """The vectors as every process left them. An embedded Chroma client keeps the index it loaded, so a
        long-lived reader (the bot) reopens it when another process or connection has written the registry
        since; it looks at most every ``store.reopen_after`` seconds."""
        if self._writable or self.config.store.chroma.mode != "embedded":
            return self._vectors
        now = time.monotonic()
        if now - self._checked_at < self.config.store.reopen_after:
            return self._vectors
        self._checked_at = now
        version = self._data_version()
        if version != self._seen_version:
            self._seen_version = version
            self._vectors.close()
            self._vectors = VectorIndex(self.config.store, self._model_name)
        return self._vectors

    def _data_version(self) -> int:
        """What changes when another connection commits to a SQLite registry (embedded Chroma is only ever
        beside one); 0 for a server registry, whose Chroma is a server too and never stale."""
        return self._registry.data_version() if isinstance(self._registry, SQLiteRegistry) else 0

    def passages(self, scored: Sequence[tuple[str, float]]) -> list[Passage]:
        """The chunks of (chunk id, score) pairs as Passages, in order; ids no longer stored are skipped."""
        records = self._registry.chunk_records([cid for cid, _ in scored])
        return [Passage(**records[cid], score=score) for cid, score in scored if cid in records]

    def idf(self, terms: Iterable[str]) -> dict[str, float]:
        """BM25 inverse document frequency of each (stemmed) term over the stored chunks, as the keyword
        engine in use counts them."""
        index = self._keyword_index()
        found = index.idf(terms) if index is not None else None
        return found if found is not None else self._registry.idf(terms)

    def problems(self) -> list[str]:
        """Inconsistencies between and inside the registry, keyword index and vectors (none is expected)."""
        found = self._registry.problems()
        if self._keywords is not None:
            if isinstance(self._registry, PostgresRegistry) and self._keywords.writable and self._upkeep is None:
                self._keywords.sync(rebuild=False)  # what other machines wrote since
            found.extend(self._keywords.problems())
        registry_ids, vector_ids = self._registry.chunk_ids(), self._vectors.ids()
        if vector_ids - registry_ids:
            found.append(f"{len(vector_ids - registry_ids)} vectors without a chunk")
        if registry_ids - vector_ids:
            found.append(f"{len(registry_ids - vector_ids)} chunks without a vector")
        return found

    def summary(self) -> dict[str, Any]:
        """What the registry alone says (articles, chunks, sources, dates): answers even when Chroma is down."""
        registry = self._registry.stats()
        return {
            "articles": registry.articles,
            "chunks": registry.chunks,
            "sources": registry.sources,
            "first_published": registry.first_published,
            "last_published": registry.last_published,
        }

    def stats(self) -> dict[str, Any]:
        """The summary with the vector count, the model and where and how large the store is."""
        meta = self._registry.meta()
        if isinstance(self._registry, PostgresRegistry):
            where, size = self._registry.location, self._registry.size_bytes()
        else:
            where, size = str(self.path.resolve()), _folder_size(self.path)
        return {
            **self.summary(),
            "vectors": self._vectors.count(),
            "model": meta.get("embedding_model", self._model_name),
            "dimension": int(meta["embedding_dimension"]) if "embedding_dimension" in meta else None,
            "store_path": where,
            "vectors_at": self._vectors.location,
            "size_bytes": size,
        }


def _acquire_write_lock(folder: Path, wait: float, on_wait: Callable[[str], None] | None) -> IO[str]:
    handle = open(folder / LOCK_FILE, "a+")  # noqa: SIM115 - held open for the store's lifetime
    deadline = time.monotonic() + wait
    told = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            handle.seek(0)
            holder = f"another process (pid {handle.read().strip() or '?'})"
            if time.monotonic() >= deadline:
                handle.close()
                then = f"gave up after waiting {wait:g} s" if wait else "try again when it finishes"
                raise StoreError(f"store {folder} is being written by {holder}; {then}") from None
            if on_wait is not None and not told:
                on_wait(f"store {folder} is being written by {holder}; waiting up to {wait:g} s for it to finish")
                told = True
            time.sleep(LOCK_POLL_SECONDS)
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _folder_size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
