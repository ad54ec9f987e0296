"""The store: registry + keyword index (SQLite) and vectors (Chroma), kept consistent across crashes.

Write protocol for a batch of articles (each step durable before the next):
  1. journal the new chunk ids as pending adds (SQLite);
  2. upsert their vectors into Chroma;
  3. in one SQLite transaction: the articles, chunks and keyword entries, replaced chunks journalled as
     pending deletes, the pending adds cleared;
  4. delete replaced vectors from Chroma, then clear those journal rows.
A kill at any point leaves either journalled vectors that ``repair`` removes, or nothing to do. ``repair``
also compares counts and, if Chroma lost or kept vectors on its own, re-syncs it from the registry.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from corpus.embedder import Embedder, load_embedder
from corpus.registry import Registry
from corpus.types import Article, Chunk
from corpus.vectors import VectorIndex, chunk_metadata
from newsbot.config import Config

REGISTRY_FILE = "registry.sqlite3"
LOCK_FILE = "write.lock"


class StoreError(RuntimeError):
    """The store cannot be opened or used as asked."""


class ModelMismatchError(StoreError):
    """The store was built with another embedding model; mixing vectors would make search meaningless."""


@dataclass(frozen=True)
class RepairReport:
    vectors_removed: int
    vectors_restored: int


class Store:
    def __init__(self, config: Config, *, write: bool = False) -> None:
        self.config = config
        self.path = Path(config.store.path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = _acquire_write_lock(self.path) if write else None
        self.registry = Registry(self.path / REGISTRY_FILE)
        self._check_model_name()
        self.vectors = VectorIndex(config.store, config.embedding.model)
        self._embedder: Embedder | None = None
        self.last_repair = self.repair() if write else RepairReport(0, 0)

    def close(self) -> None:
        self.registry.close()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the model ------------------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """The configured model, loaded on first use and checked against the one the store was built with."""
        if self._embedder is None:
            embedder = load_embedder(self.config.embedding)
            recorded = self.registry.meta()
            if "embedding_dimension" in recorded and int(recorded["embedding_dimension"]) != embedder.dimension:
                raise ModelMismatchError(
                    f"store {self.path} holds {recorded['embedding_dimension']}-dimensional vectors, but "
                    f"embedding.model {embedder.name!r} makes {embedder.dimension}-dimensional ones"
                )
            if not recorded.get("embedding_model"):
                self.registry.set_meta(
                    {"embedding_model": embedder.name, "embedding_dimension": str(embedder.dimension)}
                )
            self._embedder = embedder
        return self._embedder

    def _check_model_name(self) -> None:
        recorded = self.registry.meta().get("embedding_model")
        if recorded and recorded != self.config.embedding.model:
            raise ModelMismatchError(
                f"store {self.path} was built with embedding model {recorded!r}, but embedding.model is "
                f"{self.config.embedding.model!r}; use that model, or another store.path for a new index"
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
        self.registry.journal_adds([chunk.id for chunk, *_ in items])
        self._write_vectors(items)
        replaced = self.registry.commit_articles(batch)
        self._drop_vectors(replaced)
        return len(items), len(replaced)

    def add_alias(self, article: Article, existing_id: str) -> None:
        self._require_lock()
        self.registry.add_alias(article.key, existing_id, article.url)

    def delete(self, article_ids: Sequence[str]) -> int:
        """Remove articles and everything derived from them. Returns the number of chunks removed."""
        self._require_lock()
        removed = self.registry.delete_articles(article_ids)
        self._drop_vectors(removed)
        return len(removed)

    def repair(self) -> RepairReport:
        """Finish or undo whatever a killed writer left half done."""
        self._require_lock()
        pending = self.registry.pending()
        if pending:
            live = self.registry.chunk_ids()
            stale = [cid for cid, op in pending if op == "delete" or cid not in live]
            self.vectors.delete(stale)
            self.registry.clear_pending(cid for cid, _ in pending)
        if self.vectors.count() == self.registry.chunk_count():
            return RepairReport(len(pending), 0)
        registry_ids, vector_ids = self.registry.chunk_ids(), self.vectors.ids()
        extra = sorted(vector_ids - registry_ids)
        self.vectors.delete(extra)
        missing = self.registry.chunks_for_embedding(sorted(registry_ids - vector_ids))
        self._write_vectors(missing)
        return RepairReport(len(pending) + len(extra), len(missing))

    def _write_vectors(self, items: Sequence[tuple[Chunk, str, str, str | None]]) -> None:
        """Embed (chunk, title, source, published) items and upsert their vectors with filterable metadata."""
        if not items:
            return
        vectors = self.embedder.encode([self.embedding_text(chunk, title) for chunk, title, _, _ in items])
        metadatas = [chunk_metadata(chunk, source, published) for chunk, _, source, published in items]
        self.vectors.upsert([chunk.id for chunk, *_ in items], vectors, metadatas)

    def _drop_vectors(self, chunk_ids: Sequence[str]) -> None:
        if chunk_ids:
            self.vectors.delete(chunk_ids)
            self.registry.clear_pending(chunk_ids)

    def _require_lock(self) -> None:
        if self._lock is None:
            raise StoreError(f"store {self.path} was opened read-only")

    # -- reads ----------------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        registry = self.registry.stats()
        meta = self.registry.meta()
        return {
            "articles": registry.articles,
            "chunks": registry.chunks,
            "vectors": self.vectors.count(),
            "sources": registry.sources,
            "first_published": registry.first_published,
            "last_published": registry.last_published,
            "model": meta.get("embedding_model", self.config.embedding.model),
            "dimension": int(meta["embedding_dimension"]) if "embedding_dimension" in meta else None,
            "store_path": str(self.path.resolve()),
            "vectors_at": self.vectors.location,
            "size_bytes": _folder_size(self.path),
        }


def _acquire_write_lock(folder: Path) -> IO[str]:
    handle = open(folder / LOCK_FILE, "a+")  # noqa: SIM115 - held open for the store's lifetime
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StoreError(f"store {folder} is being written by another process; try again when it finishes") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _folder_size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
