"""Bulk ingest: read -> skip what is stored -> chunk -> embed in large batches -> commit.

Content already stored (same article id and text hash) is skipped before any embedding is computed; the
same text arriving under another URL becomes an alias of the stored article instead of a second copy.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from tqdm import tqdm

from newsbot.corpus.store import Store
from newsbot.ingest.chunker import chunk_article
from newsbot.ingest.formats import ReadFailure, ReadResult
from newsbot.ingest.readers import read_inputs
from newsbot.records import Article, Chunk


@dataclass
class IngestReport:
    articles_new: int = 0
    articles_updated: int = 0
    articles_unchanged: int = 0
    articles_duplicate: int = 0
    articles_failed: int = 0
    chunks_added: int = 0
    chunks_deleted: int = 0
    seconds: float = 0.0
    failures: list[dict[str, str]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def fail(self, name: str, error: str) -> None:
        self.articles_failed += 1
        self.failures.append({"input": name, "error": error})

    @property
    def ok(self) -> bool:
        return self.articles_failed == 0


class _Batch:
    """Articles waiting to be embedded, with aliases that can only be stored once their target is."""

    def __init__(self) -> None:
        self.items: list[tuple[Article, list[Chunk]]] = []
        self.ids: set[str] = set()
        self.hashes: dict[str, str] = {}
        self.aliases: list[tuple[Article, str]] = []
        self.chunks = 0
        self.new = 0
        self.updated = 0

    def add(self, article: Article, chunks: list[Chunk], *, is_update: bool) -> None:
        self.items.append((article, chunks))
        self.ids.add(article.id)
        self.hashes.setdefault(article.text_hash, article.id)
        self.chunks += len(chunks)
        self.updated += is_update
        self.new += not is_update


def ingest(inputs: Sequence[str], store: Store, *, progress: bool = False) -> IngestReport:
    """Ingest every article named by ``inputs`` into ``store``; failures are reported, never raised."""
    return ingest_results(read_inputs(inputs, store.config.ingest), store, progress=progress)


def ingest_results(results: Iterable[ReadResult], store: Store, *, progress: bool = False) -> IngestReport:
    """Store a stream of articles (and count its failures), skipping what is stored already."""
    config = store.config
    started = time.perf_counter()
    report = IngestReport()
    batch = _Batch()
    bar = tqdm(unit=" articles", disable=not progress, file=sys.stderr)

    def flush() -> None:
        nonlocal batch
        added, deleted = store.add(batch.items)
        for article, target in batch.aliases:
            store.add_alias(article, target)
        report.articles_new += batch.new
        report.articles_updated += batch.updated
        report.chunks_added += added
        report.chunks_deleted += deleted
        bar.update(len(batch.items))
        bar.set_postfix(chunks=report.chunks_added, failed=report.articles_failed)
        batch = _Batch()

    for item in results:
        if isinstance(item, ReadFailure):
            report.fail(item.input, item.error)
            continue
        if item.id in batch.ids:  # a second version in the same run: store the first, then compare
            flush()
        stored_hash = store.text_hash_of(item.id)
        if stored_hash == item.text_hash or _is_known_alias(store, item):
            report.articles_unchanged += 1
            bar.update(1)
            continue
        if stored_hash is None:
            twin = batch.hashes.get(item.text_hash) or store.article_with_text(item.text_hash)
            if twin == item.id:  # another writer stored this very article since its hash was read: unchanged
                report.articles_unchanged += 1
                bar.update(1)
                continue
            if twin is not None:
                batch.aliases.append((item, twin))
                report.articles_duplicate += 1
                bar.update(1)
                continue
        chunks = chunk_article(item, config.chunking.size, config.chunking.overlap)
        if not chunks:
            report.fail(item.origin, "no sentences found in the article text")
            continue
        batch.add(item, chunks, is_update=stored_hash is not None)
        if batch.chunks >= config.ingest.batch_chunks:
            flush()
    flush()
    bar.close()
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _is_known_alias(store: Store, article: Article) -> bool:
    target = store.alias_target(article.key)
    return target is not None and store.text_hash_of(target) == article.text_hash


def delete(store: Store, *, article_id: str | None = None, source: str | None = None) -> tuple[int, int]:
    """Remove one article, or every article of a source. Returns (articles, chunks) removed."""
    if article_id is not None:
        ids = [article_id] if store.article(article_id) is not None else []
    else:
        ids = store.article_ids(source=source)
    return len(ids), store.delete(ids) if ids else 0
