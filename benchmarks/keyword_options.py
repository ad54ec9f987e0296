"""Keyword legs the scale benchmark compares with the product's (``Store.keyword_search``), on one registry file:

baseline     the query before the scale work: every term of the question (the possessive "s" too), every
             match joined to its chunk and article, then sorted
df<=X        the FTS5 query over the terms found in at most a share X of the chunks (document
             frequencies from FTS5's own vocabulary, looked up per question and counted in its time)
The product's two engines (``store.keyword_engine``: registry FTS5, tantivy) are measured through the Store.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from newsbot.corpus.registry import SQLiteRegistry, _match, filter_sql
from newsbot.records import Filters
from newsbot.text import STOPWORDS, WORD, keyword_forms, keyword_terms, keyword_tokens

Ranking = list[tuple[str, float]]


def connect(registry: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{registry}?mode=ro", uri=True, check_same_thread=False)


class Baseline:
    """The keyword query as it was before the scale work."""

    def __init__(self, registry: Path) -> None:
        self._db = connect(registry)

    def search(self, query: str, limit: int, filters: Filters) -> Ranking:
        words = WORD.findall(query.lower())
        terms = list(dict.fromkeys(w for w in words if w not in STOPWORDS)) or words
        if not terms:
            return []
        conditions, params = filter_sql(filters)
        rows = self._db.execute(
            "SELECT c.id, -bm25(chunk_fts) AS score FROM chunk_fts JOIN chunks c ON c.rowid = chunk_fts.rowid "
            f"JOIN articles a ON a.id = c.article_id WHERE chunk_fts MATCH ? {conditions} "
            "ORDER BY bm25(chunk_fts) LIMIT ?",
            (" OR ".join(_match(term) for term in terms), *params, limit),
        )
        return [(cid, float(score)) for cid, score in rows]


class RareTerms:
    """The FTS5 query over the terms found in at most ``share`` of the chunks."""

    def __init__(self, registry: Path, share: float) -> None:
        self._registry = SQLiteRegistry(registry)
        self._db = connect(registry)
        self._db.execute("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab (main, chunk_fts, 'row')")
        self._chunks = self._db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        self.share = share

    def search(self, query: str, limit: int, filters: Filters) -> Ranking:
        ceiling = self.share * self._chunks
        kept = [term for term in keyword_terms(query) if self._frequency(term) <= ceiling]
        return self._registry.keyword_search(" ".join(kept), limit, filters) if kept else []

    def _frequency(self, term: str) -> int:
        """Chunks holding the term (the sum over its forms' stems: an upper bound)."""
        stems = sorted(set().union(*(c.keys() for c in keyword_tokens(keyword_forms(term)))))
        found = self._db.execute(
            f"SELECT sum(doc) FROM vocab WHERE term IN ({','.join('?' * len(stems))})", stems
        ).fetchone()[0]
        return found or 0
