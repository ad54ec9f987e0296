"""The Tantivy keyword leg (``pip install tantivy``): block-max WAND top-k over the same Porter tokens as FTS5
(the chunk texts run through FTS5's tokenizer, fed to Tantivy's whitespace tokenizer); BM25 with Tantivy's idf
(ln(1 + (N - n + 0.5) / (n + 0.5)), where FTS5 drops the 1 +) and its quantised field lengths."""

from __future__ import annotations

import shutil
from pathlib import Path

import tantivy
from keyword_options import Ranking, connect, porter_tokens

from newsbot.records import Filters
from newsbot.text import keyword_forms, keyword_terms

_BATCH = 5000


class Tantivy:
    """A Tantivy index of the registry's chunks in ``folder`` (built when absent), with the article, source and
    day (yyyymmdd, 0 when undated) of each chunk for the filters."""

    def __init__(self, registry: Path, folder: Path) -> None:
        self._db = connect(registry)
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
