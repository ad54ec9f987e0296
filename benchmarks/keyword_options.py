"""Keyword legs the scale benchmark compares with the product's (``Store.keyword_search``), on one registry file:

baseline     the query before the scale work: every term of the question (the possessive "s" too), every
             match joined to its chunk and article, then sorted
df<=X        the product's query over the terms found in at most a share X of the chunks (document
             frequencies from FTS5's own vocabulary, looked up per question and counted in its time)
tantivy      Tantivy (block-max WAND top-k) over the same Porter tokens as FTS5 (the chunk texts run through
             FTS5's tokenizer, fed to Tantivy's whitespace tokenizer); BM25 with Tantivy's idf
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import tantivy

from newsbot.corpus.registry import Registry, _filter_sql, _match
from newsbot.records import Filters
from newsbot.text import KEYWORD_TOKENIZER, STOPWORDS, WORD, keyword_forms, keyword_terms

Ranking = list[tuple[str, float]]
_BATCH = 5000


def _connect(registry: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{registry}?mode=ro", uri=True, check_same_thread=False)


class Baseline:
    """The keyword query as it was before the scale work."""

    def __init__(self, registry: Path) -> None:
        self._db = _connect(registry)

    def search(self, query: str, limit: int, filters: Filters) -> Ranking:
        words = WORD.findall(query.lower())
        terms = list(dict.fromkeys(w for w in words if w not in STOPWORDS)) or words
        if not terms:
            return []
        conditions, params = _filter_sql(filters)
        rows = self._db.execute(
            "SELECT c.id, -bm25(chunk_fts) AS score FROM chunk_fts JOIN chunks c ON c.rowid = chunk_fts.rowid "
            f"JOIN articles a ON a.id = c.article_id WHERE chunk_fts MATCH ? {conditions} "
            "ORDER BY bm25(chunk_fts) LIMIT ?",
            (" OR ".join(_match(term) for term in terms), *params, limit),
        )
        return [(cid, float(score)) for cid, score in rows]


class RareTerms:
    """The product's query over the terms found in at most ``share`` of the chunks."""

    def __init__(self, registry: Path, share: float) -> None:
        self._registry = Registry(registry)
        self._db = _connect(registry)
        self._db.execute("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab (main, chunk_fts, 'row')")
        self._chunks = self._db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        self.share = share

    def search(self, query: str, limit: int, filters: Filters) -> Ranking:
        ceiling = self.share * self._chunks
        kept = [term for term in keyword_terms(query) if self._frequency(term) <= ceiling]
        return self._registry.keyword_search(" ".join(kept), limit, filters) if kept else []

    def _frequency(self, term: str) -> int:
        """Chunks holding the term (the sum over its forms' stems: an upper bound)."""
        stems = sorted(set().union(*porter_tokens(keyword_forms(term))))
        found = self._db.execute(
            f"SELECT sum(doc) FROM vocab WHERE term IN ({','.join('?' * len(stems))})", stems
        ).fetchone()[0]
        return found or 0


def porter_tokens(texts: Sequence[str]) -> list[list[str]]:
    """Each text's tokens as FTS5's tokenizer makes them (Porter stems, lower case, no diacritics)."""
    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE VIRTUAL TABLE t USING fts5 (body, tokenize = '{KEYWORD_TOKENIZER}')")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab (t, 'instance')")
    db.executemany("INSERT INTO t (rowid, body) VALUES (?, ?)", enumerate(texts))
    tokens: list[list[str]] = [[] for _ in texts]
    for row, term in db.execute("SELECT doc, term FROM v"):
        tokens[row].append(term)
    db.close()
    return tokens


class Tantivy:
    """A Tantivy index of the registry's chunks in ``folder`` (built when absent), with the article, source and
    day (yyyymmdd, 0 when undated) of each chunk for the filters."""

    def __init__(self, registry: Path, folder: Path) -> None:
        self._db = _connect(registry)
        schema = tantivy.SchemaBuilder()
        schema.add_text_field("body", tokenizer_name="whitespace", index_option="freq")
        schema.add_text_field("article", tokenizer_name="raw", index_option="basic")
        schema.add_text_field("source", tokenizer_name="raw", index_option="basic")
        schema.add_integer_field("day", indexed=True, fast=True)
        schema.add_integer_field("row", stored=True, indexed=False)
        self._schema = schema.build()
        done = folder / "complete"  # written once the index is whole
        self.built = not done.exists()
        if self.built:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
        self._index = tantivy.Index(self._schema, path=str(folder))
        if self.built:
            self._build()
            done.touch()
        self._index.reload()
        self._searcher = self._index.searcher()

    def _build(self) -> None:
        writer = self._index.writer(heap_size=256_000_000, num_threads=1)
        rows = self._db.execute(
            'SELECT c.rowid, substr(a.text, c.start + 1, c."end" - c.start), a.id, a.source, a.published '
            "FROM chunks c JOIN articles a ON a.id = c.article_id ORDER BY c.rowid"
        )
        while batch := rows.fetchmany(_BATCH):
            for (rowid, _, article, source, published), tokens in zip(
                batch, porter_tokens([row[1] for row in batch]), strict=True
            ):
                fields = {"body": " ".join(tokens), "article": article, "source": source, "row": rowid}
                writer.add_document(tantivy.Document(**fields, day=_day(published) or 0))
        writer.commit()
        writer.wait_merging_threads()

    def search(self, query: str, limit: int, filters: Filters) -> Ranking:
        forms = [form for term in keyword_terms(query) for form in keyword_forms(term)]
        stems = [stem for tokens in porter_tokens(forms) for stem in tokens]
        if not stems:
            return []
        clauses = [(tantivy.Occur.Should, tantivy.Query.term_query(self._schema, "body", s)) for s in stems]
        where = [(tantivy.Occur.Must, tantivy.Query.const_score_query(q, 0.0)) for q in self._filters(filters)]
        matched = tantivy.Query.boolean_query([(tantivy.Occur.Must, tantivy.Query.boolean_query(clauses)), *where])
        hits = self._searcher.search(matched, limit, count=False).hits
        rows = [(self._searcher.doc(address)["row"][0], score) for score, address in hits]
        ids = dict(
            self._db.execute(
                f"SELECT rowid, id FROM chunks WHERE rowid IN ({','.join('?' * len(rows))})", [r for r, _ in rows]
            )
        )
        return [(ids[row], float(score)) for row, score in rows if row in ids]

    def _filters(self, filters: Filters) -> list[tantivy.Query]:
        """The filters as queries every hit must match (``as_of`` lets undated chunks, day 0, through)."""
        found = []
        lower, upper = _day(filters.since), _day(filters.until)
        if lower or upper:
            found.append(self._days(lower or 1, upper))
        if filters.as_of:
            found.append(self._days(None, _day(filters.as_of)))
        if filters.source:
            found.append(tantivy.Query.term_query(self._schema, "source", filters.source))
        if filters.article_ids is not None:
            found.append(tantivy.Query.term_set_query(self._schema, "article", sorted(filters.article_ids)))
        return found

    def _days(self, lower: int | None, upper: int | None) -> tantivy.Query:
        return tantivy.Query.range_query(self._schema, "day", tantivy.FieldType.Integer, lower, upper)


def _day(iso: str | None) -> int | None:
    return int(iso[:10].replace("-", "")) if iso else None
