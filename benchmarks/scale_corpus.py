"""The scale benchmark's stores: the shared data's real article texts, chunked by the product's chunker, written
straight into a store's registry and Chroma.

A fast path for benchmarks only: it skips the write journal (not crash-safe) and the embedding of every chunk
(a million chunks take hours on two cores). Each chunk's vector is the real embedding of one sampled chunk
(the same for all chunks of an article) plus small Gaussian noise, L2-normalised. The shared data holds about
400k distinct chunks; past that, the articles come again under new keys, chunked at other sizes, so no copy
repeats a chunk exactly.
"""

from __future__ import annotations

import gzip
import json
import random
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from newsbot.corpus.store import Store
from newsbot.corpus.vectors import chunk_metadata
from newsbot.ingest.chunker import chunk_article
from newsbot.ingest.formats import InputError, article_from_record
from newsbot.records import Article, Chunk

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
COPY_SIZES = (700, 560, 840, 630, 770, 490)  # chunk size of each pass over the articles (the first as configured)
BATCH_ARTICLES = 400


def shared_articles() -> list[Article]:
    """The distinct articles (by key and text) of the shared data: 2025q1 first (the test questions' own), then
    the validation weeks, then training 2022-24."""
    files = [
        *sorted((DATA / "realtimeqa-2025q1").glob("*_gcs.jsonl")),
        *sorted((DATA / "realtimeqa-2025q2q4").glob("*_gcs.jsonl")),
        *sorted((DATA / "realtimeqa-train").glob("*_gcs.jsonl.gz")),
    ]
    seen: set[str] = set()
    articles = []
    for path in files:
        with gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(encoding="utf-8") as lines:
            for line in lines:
                for result in json.loads(line).get("search_result") or []:
                    try:
                        article = article_from_record(result, origin=path.name, source="web")
                    except InputError:
                        continue
                    if article.key not in seen and article.text_hash not in seen:
                        seen.update((article.key, article.text_hash))
                        articles.append(article)
    return articles


def chunked(articles: list[Article], target: int, overlap: int) -> Iterator[tuple[Article, list[Chunk]]]:
    """Articles with their chunks, ``target`` chunks in all: the articles as they are, then copies under new keys
    chunked at the other ``COPY_SIZES``."""
    total = 0
    for copy, size in enumerate(COPY_SIZES):
        for original in articles:
            article = original if copy == 0 else _copy(original, copy)
            chunks = chunk_article(article, size, overlap)[: target - total]
            yield article, chunks
            total += len(chunks)
            if total >= target:
                return
    raise ValueError(f"the shared data holds fewer than {target} chunks in {len(COPY_SIZES)} passes")


def _copy(article: Article, copy: int) -> Article:
    return Article(
        key=f"{article.key}#copy{copy}",
        text=article.text,
        title=article.title,
        source=article.source,
        published=article.published,
        url=article.url,
        dateline=article.dateline,
        origin=article.origin,
    )


def sample_vectors(store: Store, articles: list[Article], count: int) -> np.ndarray:
    """Real embeddings (title-prefixed, as ingest makes them) of the first chunk of ``count`` sampled articles."""
    size = store.config.chunking.size
    picked = random.Random(0).sample(articles, min(count, len(articles)))
    texts = [store.embedding_text(chunk_article(a, size, store.config.chunking.overlap)[0], a.title) for a in picked]
    return store.encode(texts)


def build(store: Store, articles: list[Article], target: int, bases: np.ndarray | None, noise: float) -> int:
    """Fill an empty store with ``target`` chunks: registry (articles, chunks, keyword index) and, with ``bases``,
    Chroma (each article's base vector plus noise). Returns the number of articles."""
    registry, vectors = store._registry, store._vectors
    rng = np.random.default_rng(0)
    batch: list[tuple[Article, list[Chunk]]] = []
    count = 0

    def flush() -> None:
        if bases is not None:
            items = [(a, c) for a, chunks in batch for c in chunks]
            picks = [zlib.crc32(a.key.split("#copy")[0].encode()) % len(bases) for a, _ in items]
            noisy = bases[picks] + rng.normal(0.0, noise, (len(items), bases.shape[1])).astype(np.float32)
            noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
            metadatas = [chunk_metadata(c, a.source, a.published) for a, c in items]
            vectors.upsert([c.id for _, c in items], noisy, metadatas)
        registry.commit_articles(batch)
        batch.clear()

    for article, chunks in chunked(articles, target, store.config.chunking.overlap):
        batch.append((article, chunks))
        count += 1
        if len(batch) >= BATCH_ARTICLES:
            flush()
    flush()
    return count
