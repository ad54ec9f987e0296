"""The Tantivy keyword index (``store.keyword_engine: tantivy``): BM25 over the same Porter tokens as the registry's
FTS5 index, ranked top-k first by block-max WAND, so a question costs milliseconds where FTS5 walks every posting
of its terms (hundreds of ms at a million chunks).

It is derived data in ``store.path/tantivy``; the registry stays the truth. Every registry transaction logs the
chunk rowids it added or removed (``keyword_changes``); the index's writer applies them here after the registry
commits (re-reading each chunk as the registry holds it now, so applying twice is harmless), commits, then
records the registry generation it reflects in ``state.json`` and trims the log. A kill at any point leaves the
index behind the registry, never ahead of it; the next writer applies what is missing, or rebuilds when the log
cannot tell (the index missing, its generation unknown to the registry, or from another registry).

With a SQLite registry the store's writer (under its file lock) writes the index. With PostgreSQL every machine
keeps its own index under its store.path, written by the one process there that holds ``keeper_lock``; the log
is shared, nobody waits for the other machines, and the registry keeps its newest changes: an index further
behind rebuilds.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import shutil
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import tantivy

from newsbot.corpus.registry import Registry
from newsbot.records import Filters, day_number
from newsbot.text import keyword_forms, keyword_terms, keyword_tokens

INDEX_FOLDER = "tantivy"
STATE_FILE = "state.json"
WRITER_HEAP = 128_000_000  # bytes the writer buffers before it flushes a segment


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("body", tokenizer_name="whitespace", index_option="freq")  # Porter tokens, spaced
    builder.add_text_field("article", tokenizer_name="raw", index_option="basic")
    builder.add_text_field("source", tokenizer_name="raw", index_option="basic")
    builder.add_integer_field("day", indexed=True, fast=True)  # yyyymmdd, 0 when undated
    builder.add_integer_field("row", indexed=True, fast=True)  # the chunk's rowid in the registry
    return builder.build()


class TantivyIndex:
    """The keyword index of one registry. Its writer (``write=True``) keeps it in step with ``sync``; a reader
    searches what was last committed and picks up newer commits on ``refresh``. Searches may run in other
    threads than the writer's ``sync``."""

    def __init__(self, store_path: Path, registry: Registry, *, write: bool) -> None:
        """The index lives in ``store_path/tantivy`` beside a SQLite registry; for PostgreSQL in a folder named
        after the database (meta registry_id), so that a store migrated in place keeps its own index."""
        self._registry = registry
        self._write = write
        self._identity = registry.meta().get("registry_id", "")
        self.folder = store_path / (f"{INDEX_FOLDER}-{self._identity}" if self._identity else INDEX_FOLDER)
        self._closing = False
        self._schema = _schema()
        self._index: tantivy.Index | None = None
        self._writer: Any = None
        self._searcher: Any = None
        self._counts: dict[str, int] = {}  # term -> chunks holding it, for the current searcher
        self._syncing = threading.Lock()
        self.refresh()

    @property
    def ready(self) -> bool:
        """Whether a whole index is open (else the store searches the registry's FTS5 index)."""
        return self._searcher is not None

    def generation(self) -> int | None:
        """The registry generation the index reflects; None when there is no whole index."""
        try:
            state = json.loads((self.folder / STATE_FILE).read_text())
            return int(state["generation"]) if state.get("registry", "") == self._identity else None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def refresh(self) -> None:
        """See the latest commit (another process's too); open the index once a whole one exists, and let go of
        it while there is none (a writer rebuilding it)."""
        if self._closing or self.generation() is None:
            self._searcher = None
            return
        if self._index is None:
            self._index = tantivy.Index(self._schema, path=str(self.folder))
        self._index.reload()
        self._searcher = self._index.searcher()
        self._counts = {}

    def close(self) -> None:
        """Let go of the index; a rebuild running in another thread stops at its next batch, uncommitted."""
        self._closing = True
        with self._syncing:
            self._release_writer()
            self._searcher = self._index = None

    def _release_writer(self) -> None:
        if self._writer is not None:
            self._writer.wait_merging_threads()
            self._writer = None

    # -- writes (the index's writer only) ------------------------------------------------------------------
    @property
    def writable(self) -> bool:
        return self._write

    def take_over(self) -> None:
        """Become the index's writer (the caller now holds its machine's ``keeper_lock``)."""
        self._write = True

    def sync(self, *, rebuild: bool = True) -> int | None:
        """Bring the index in step with the registry: apply the logged changes, or rebuild it when they cannot
        tell what it lacks (unless ``rebuild`` is False: then None, and the index stays as it is). Returns the
        number of chunk rows written or removed."""
        with self._syncing:
            if self._closing:  # closed while this waited: a rebuild now would remove a whole index for nothing
                return None
            applied, target = self.generation(), self._registry.keyword_generation()
            if applied == target and self._index is not None:
                return 0
            rows = self._registry.keyword_changes(applied) if applied is not None and self._index is not None else None
            try:
                if rows is None:
                    return self._rebuild(target) if rebuild else None
                writer = self._open_writer()
                for row in rows:
                    writer.delete_documents_by_term("row", row)
                self._add(writer, self._registry.keyword_documents(rows))
                self._commit(target)
            except _Closing:
                self._release_writer()  # its uncommitted documents go with it
                return None
            return len(rows)

    def _rebuild(self, target: int) -> int:
        """A new index of every chunk (the old one, and its state, removed first)."""
        self._release_writer()
        self._searcher = self._index = None
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self._index = tantivy.Index(self._schema, path=str(self.folder))
        written = self._add(self._open_writer(), self._registry.keyword_documents())
        self._commit(target)
        return written

    def _open_writer(self) -> Any:
        if self._writer is None:
            assert self._index is not None and self._write, "only the store's writer writes the keyword index"
            self._writer = self._index.writer(heap_size=WRITER_HEAP, num_threads=1)
        return self._writer

    def _add(self, writer: Any, batches: Iterable[list[tuple[Any, ...]]]) -> int:
        written = 0
        for batch in batches:
            if self._closing:
                raise _Closing
            tokens = keyword_tokens([text for _, text, *_ in batch])
            for (row, _, article, source, published), counts in zip(batch, tokens, strict=True):
                body = " ".join(" ".join([token] * count) for token, count in counts.items())
                writer.add_document(
                    tantivy.Document(body=body, article=article, source=source, day=day_number(published), row=row)
                )
            written += len(batch)
        return written

    def _commit(self, generation: int) -> None:
        """Commit the writes, then record the generation they bring the index to and trim the log."""
        self._writer.commit()
        state = self.folder / f"{STATE_FILE}.new"
        with state.open("w") as handle:
            json.dump({"generation": generation, "registry": self._identity}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        state.replace(self.folder / STATE_FILE)
        self._registry.trim_keyword_changes(generation)
        self.refresh()

    # -- reads ------------------------------------------------------------------------------------------
    def search(self, query: str, limit: int, filters: Filters) -> list[tuple[str, float]] | None:
        """(chunk id, BM25 score) of the best chunks holding any key term of ``query`` that pass ``filters``:
        as the FTS5 leg filters (the articles' day, source and id inside Tantivy, then the registry's own
        conditions on the hits, so a chunk removed since the last commit never comes back). None when no whole
        index is open (a rebuild in another thread began since ``ready`` was asked)."""
        stems = _stems(keyword_terms(query))
        if not stems or limit <= 0:
            return []
        matched = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, self._any_of(stems)),
                *((tantivy.Occur.Must, tantivy.Query.const_score_query(q, 0.0)) for q in self._filters(filters)),
            ]
        )
        searcher = self._searcher  # one commit's view, whatever a concurrent refresh does
        if searcher is None:
            return None
        hits = searcher.search(matched, limit, count=False).hits
        rows = searcher.fast_field_values("row", [address for _, address in hits])
        return self._registry.chunk_ids_passing(
            [(row, float(score)) for row, (score, _) in zip(rows, hits, strict=True)], filters
        )

    def idf(self, terms: Iterable[str]) -> dict[str, float] | None:
        """BM25 inverse document frequency of each term (with its irregular forms) as Tantivy ranks by it; None
        when no whole index is open."""
        searcher, counts = self._searcher, self._counts
        if searcher is None:
            return None
        total = searcher.num_docs
        weights = {}
        for term in terms:
            if term not in counts:
                stems = _stems([term])
                if len(stems) == 1:
                    counts[term] = searcher.doc_freq("body", stems[0])
                else:
                    counts[term] = searcher.search(self._any_of(stems), 1, count=True).count if stems else 0
            df = counts[term]
            weights[term] = math.log(1 + (total - df + 0.5) / (df + 0.5))
        return weights

    def problems(self) -> list[str]:
        """How the index differs from the registry (``newsbot check --repair`` repairs it)."""
        self.refresh()
        generation, target = self.generation(), self._registry.keyword_generation()
        if generation is None:
            return ["no keyword index (tantivy): `newsbot check --repair` builds it"]
        found = []
        if generation != target:
            found.append(f"keyword index (tantivy) at registry generation {generation}, the registry at {target}")
        indexed, chunks = self._searcher.num_docs if self._searcher else 0, self._registry.chunk_count()
        if indexed != chunks:
            found.append(f"keyword index (tantivy) holds {indexed} chunks, the registry {chunks}")
        return found

    def _any_of(self, stems: Sequence[str]) -> tantivy.Query:
        return tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(self._schema, "body", stem)) for stem in stems]
        )

    def _filters(self, filters: Filters) -> list[tantivy.Query]:
        """The filters as queries every hit must match (``as_of`` lets undated chunks, day 0, through)."""
        found = []
        lower, upper = day_number(filters.since), day_number(filters.until)
        if lower or upper:
            found.append(self._days(lower or 1, upper or None))
        if filters.as_of:
            found.append(self._days(None, day_number(filters.as_of) or None))
        if filters.source:
            found.append(tantivy.Query.term_query(self._schema, "source", filters.source))
        if filters.article_ids is not None:
            found.append(tantivy.Query.term_set_query(self._schema, "article", sorted(filters.article_ids)))
        return found

    def _days(self, lower: int | None, upper: int | None) -> tantivy.Query:
        return tantivy.Query.range_query(self._schema, "day", tantivy.FieldType.Integer, lower, upper)


class _Closing(Exception):
    """The index was closed while a sync was writing it."""


def keeper_lock(folder: Path) -> IO[str] | None:
    """The machine's right to write the index in ``folder``, held while the returned file stays open; None when
    another process holds it."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    handle = (folder.parent / f"{folder.name}.lock").open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _stems(terms: Sequence[str]) -> list[str]:
    """The index tokens that match the terms: each term's forms as the one tokenizer stems them."""
    forms = [form for term in terms for form in keyword_forms(term)]
    return sorted(set().union(*(counts.keys() for counts in keyword_tokens(forms)))) if forms else []
