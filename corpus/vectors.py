"""Chunk vectors in Chroma: an embedded PersistentClient under the store folder, or a `chroma run` server.

We always pass our own embeddings; the collection is created with no embedding function, so chromadb's
default one (which downloads an ONNX model) is never used.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import chromadb
import httpx
import numpy as np
from chromadb.config import Settings

from newsbot.corpus.errors import VectorStoreError
from newsbot.records import Chunk, Filters, day_number
from newsbot.settings import StoreSettings

_PAGE = 5000
TOKEN = "CHROMA_AUTH_TOKEN"  # the server's token: from the environment only, never the configuration file


class VectorIndex:
    """Every Chroma call goes through ``_calling``: whatever the client raises (a server gone mid-ingest, a
    server that is not Chroma) becomes a VectorStoreError naming the server and the operation."""

    def __init__(self, config: StoreSettings, model: str) -> None:
        settings = Settings(anonymized_telemetry=False)
        chroma = config.chroma
        if chroma.mode == "http":
            self.location = f"{'https' if chroma.ssl else 'http'}://{chroma.host}:{chroma.port}"
        else:
            self.location = str(Path(config.path) / "chroma")
        self._mode = chroma.mode
        self._headers = _auth_headers(chroma.auth_header, os.environ.get(TOKEN, "").strip())
        if chroma.mode == "http":
            self._check_heartbeat()
        with self._calling("open the collection"):
            if chroma.mode == "http":
                client = chromadb.HttpClient(
                    host=chroma.host, port=chroma.port, ssl=chroma.ssl, headers=self._headers, settings=settings
                )
            else:
                client = chromadb.PersistentClient(path=self.location, settings=settings)
            self._client = client
            self._collection = client.get_or_create_collection(
                chroma.collection,
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"embedding_model": model},
            )
            self._max_batch = client.get_max_batch_size()

    def close(self) -> None:
        """Release the client (an embedded one is shared in-process; the last release closes it)."""
        self._client.close()

    def count(self) -> int:
        with self._calling("count vectors"):
            return self._collection.count()

    def ids(self) -> set[str]:
        found: set[str] = set()
        offset = 0
        with self._calling("list vectors"):
            while True:
                page = self._collection.get(include=[], limit=_PAGE, offset=offset)["ids"]
                found.update(page)
                if len(page) < _PAGE:
                    return found
                offset += _PAGE

    def records(self, ids: Sequence[str]) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """The vectors and metadata of ``ids``, in their order (all must be stored)."""
        found: dict[str, tuple[Any, dict[str, Any]]] = {}
        with self._calling("read vectors"):
            for lo, hi in self._batches(len(ids)):
                page = self._collection.get(ids=list(ids[lo:hi]), include=["embeddings", "metadatas"])
                for cid, vector, meta in zip(page["ids"], page["embeddings"], page["metadatas"], strict=True):
                    found[cid] = (vector, dict(meta or {}))
        missing = [cid for cid in ids if cid not in found]
        if missing:
            raise VectorStoreError(f"Chroma at {self.location} lacks {len(missing)} vectors, e.g. {missing[0]}")
        vectors = np.array([found[cid][0] for cid in ids], dtype=np.float32).reshape(len(ids), -1)
        return vectors, [found[cid][1] for cid in ids]

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict[str, Any]]) -> None:
        with self._calling("store vectors"):
            for lo, hi in self._batches(len(ids)):
                self._collection.upsert(
                    ids=list(ids[lo:hi]), embeddings=vectors[lo:hi], metadatas=list(metadatas[lo:hi])
                )

    def set_metadata(self, ids: Sequence[str], metadatas: Sequence[dict[str, Any]]) -> None:
        """Replace the metadata of stored vectors (ids no longer stored are skipped)."""
        with self._calling("update vector metadata"):
            for lo, hi in self._batches(len(ids)):
                self._collection.update(ids=list(ids[lo:hi]), metadatas=list(metadatas[lo:hi]))

    def query(
        self, vector: np.ndarray, k: int, filters: Filters, hidden: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) of the ``k`` nearest chunks, best first, filtered; the ``hidden``
        articles' chunks left out instead of comparing days with ``as_of`` (see ``_where``)."""
        with self._calling("search vectors"):  # fewer than k stored (or matching) is fine: Chroma returns those
            found = self._collection.query(
                query_embeddings=vector.reshape(1, -1),
                n_results=k,
                where=_where(filters, hidden),
                include=["distances"],
            )
        return [(cid, 1.0 - float(d)) for cid, d in zip(found["ids"][0], found["distances"][0], strict=True)]

    def delete(self, ids: Sequence[str]) -> None:
        ids = list(ids)
        with self._calling("delete vectors"):
            for lo, hi in self._batches(len(ids)):
                self._collection.delete(ids=ids[lo:hi])

    def _check_heartbeat(self) -> None:
        """A server that answers but is not Chroma (a wrong port, a proxy's error page) is named as such."""
        url = f"{self.location}/api/v2/heartbeat"
        try:
            reply = httpx.get(url, headers=self._headers, timeout=10)
        except httpx.HTTPError:
            return  # unreachable: opening says so
        if reply.status_code in (401, 403):
            given = "was refused" if self._headers else "is not set"
            raise VectorStoreError(
                f"Chroma (http) at {self.location} asks for a token (HTTP {reply.status_code}) and {TOKEN} {given}"
            )
        try:
            ok = reply.status_code == 200 and "nanosecond heartbeat" in reply.json()
        except ValueError:
            ok = False
        if not ok:
            raise VectorStoreError(
                f"Chroma (http) at {self.location}: the server answered, but not as a Chroma server does "
                f"(HTTP {reply.status_code} on /api/v2/heartbeat); check store.chroma.host and port"
            )

    @contextmanager
    def _calling(self, action: str) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            raise VectorStoreError(
                f"Chroma ({self._mode}) at {self.location} could not {action}: {_reason(exc)}"
            ) from exc

    def _batches(self, total: int) -> Iterator[tuple[int, int]]:
        for lo in range(0, total, self._max_batch):
            yield lo, min(total, lo + self._max_batch)


def _auth_headers(header: str, token: str) -> dict[str, str]:
    """What carries the token to the server: none without one."""
    if not token:
        return {}
    return {header: f"Bearer {token}" if header == "Authorization" else token}


def _reason(exc: Exception) -> str:
    """What went wrong, in words (a server that went away is named as such)."""
    text = " ".join(str(exc).split())
    if isinstance(exc, httpx.ConnectError | ConnectionError):
        return f"cannot connect ({text or type(exc).__name__}); is `chroma run` up there?"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def chunk_metadata(chunk: Chunk, source: str, published: str | None) -> dict[str, Any]:
    """What Chroma keeps beside a vector, enough to filter by source and date without the registry."""
    meta: dict[str, Any] = {
        "article_id": chunk.article_id,
        "start": chunk.start,
        "end": chunk.end,
        "source": source,
    }
    if published:
        meta["published"] = published
    meta["published_day"] = day_number(published)
    return meta


def _where(filters: Filters, hidden: Sequence[str] | None) -> dict[str, Any] | None:
    """The filters as a Chroma ``where`` clause on the chunk metadata. ``as_of`` compares days (undated chunks are
    day 0), or, in a store written before undated chunks carried a day, ``hidden`` lists the articles published
    after it."""
    clauses: list[dict[str, Any]] = []
    if filters.article_ids is not None:
        clauses.append({"article_id": {"$in": sorted(filters.article_ids)}})
    if hidden:
        clauses.append({"article_id": {"$nin": sorted(hidden)}})
    elif filters.as_of and hidden is None:
        clauses.append({"published_day": {"$lte": day_number(filters.as_of)}})
    if filters.since:
        clauses.append({"published_day": {"$gte": day_number(filters.since)}})
    if filters.until:
        clauses.append({"published_day": {"$gt": 0}})
        clauses.append({"published_day": {"$lte": day_number(filters.until)}})
    if filters.source:
        clauses.append({"source": filters.source})
    if len(clauses) > 1:
        return {"$and": clauses}
    return clauses[0] if clauses else None
