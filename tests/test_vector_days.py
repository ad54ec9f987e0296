"""A question asked as of a past day: the articles published after it do not exist for it, undated ones do. Dense
search drops them from a wider unfiltered search, or, when that leaves too few or another filter applies, Chroma
compares days (undated chunks are day 0); a store written before undated chunks carried a day lists the later
articles instead until its next writer dates them."""

import json
import sqlite3
from pathlib import Path

from newsbot.corpus.store import VECTOR_DAYS, Store
from newsbot.corpus.vectors import _where
from newsbot.ingest.pipeline import ingest
from newsbot.records import Filters
from newsbot.settings import Settings
from tests.conftest import make_config, open_store

QUESTION = "What happened to the harbour board's container quay crane?"
REPORTS = [
    {"id": "2019", "title": "Harbour crane", "published": "2019-05-02", "source": "quay-news",
     "text": "The harbour board bought a new crane for the container quay on Thursday, its chair said."},
    {"id": "undated", "title": "Harbour crane history", "source": "quay-news",
     "text": "The container quay crane of the harbour board has lifted boxes for decades, its chair said."},
] + [
    {"id": f"2024-{n}", "title": f"Harbour crane sold {n}", "published": f"2024-08-1{n}", "source": "quay-news",
     "text": f"What happened to the harbour board's container quay crane? Sold, report {n} says."}
    for n in range(4)
]  # fmt: skip
AS_OF_2020 = Filters(as_of="2020-01-01")


def _store_with_reports(tmp_path: Path) -> Settings:
    source = tmp_path / "harbour.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in REPORTS) + "\n", encoding="utf-8")
    config = make_config(tmp_path / "store")
    with open_store(config, write=True) as store:
        assert ingest([str(source)], store).articles_new == len(REPORTS)
    return config


def _found(store: Store, filters: Filters, k: int = 10) -> set[str]:
    """The reports' own ids of the articles whose chunks dense search finds."""
    by_article = {a: store.article(a).title for a in store.article_ids()}  # type: ignore[union-attr]
    by_title = {r["title"]: r["id"] for r in REPORTS}
    return {by_title[by_article[p.article_id]] for p in store.passages(store.dense_search(QUESTION, k, filters))}


def _check_as_of(store: Store) -> None:
    assert _found(store, AS_OF_2020) == {"2019", "undated"}  # the wider search, later chunks dropped
    assert _found(store, Filters(), k=3) <= {f"2024-{n}" for n in range(4)}
    assert _found(store, AS_OF_2020, k=1) in ({"2019"}, {"undated"})  # the nearest 3 were all later: Chroma filters
    assert _found(store, Filters(as_of="2020-01-01", source="quay-news")) == {"2019", "undated"}  # Chroma filters
    assert _found(store, Filters(as_of="2024-08-11")) == {"2019", "undated", "2024-0", "2024-1"}


def test_as_of_hides_later_articles_and_keeps_undated_ones(tmp_path: Path):
    config = _store_with_reports(tmp_path)
    with open_store(config) as store:
        assert store._vectors_dated()
        _check_as_of(store)
        assert _found(store, Filters(until="2030-01-01")) == {"2019"} | {f"2024-{n}" for n in range(4)}
        assert _found(store, Filters(since="2019-01-01", until="2020-01-01")) == {"2019"}
        assert _found(store, Filters(as_of="2020-01-01", article_ids=frozenset(store.article_ids()))) == {
            "2019",
            "undated",
        }
    assert _where(Filters(as_of="2020-01-01", source="s"), None) == {
        "$and": [{"published_day": {"$lte": 20200101}}, {"source": "s"}]
    }


def test_a_writer_dates_the_undated_vectors_of_a_store_written_before(tmp_path: Path):
    config = _store_with_reports(tmp_path)
    with open_store(config, write=True) as store:  # the undated chunks as an older version stored them
        undated = store._registry.undated_chunk_ids()
        assert undated
        vectors, metadatas = store._vectors.records(undated)
        assert {meta["published_day"] for meta in metadatas} == {0}
        store._vectors.delete(undated)
        store._vectors.upsert(
            undated, vectors, [{k: v for k, v in m.items() if k != "published_day"} for m in metadatas]
        )
    with sqlite3.connect(tmp_path / "store" / "registry.sqlite3") as db:
        db.execute("DELETE FROM meta WHERE key = ?", (VECTOR_DAYS,))
    with open_store(config) as reader:  # not yet dated: Chroma leaves out the listed later articles
        assert not reader._vectors_dated()
        _check_as_of(reader)
        with open_store(config, write=True) as writer:
            assert writer._vectors.records(undated)[1][0]["published_day"] == 0
        assert reader._vectors_dated()  # the reader sees the writer's mark at its next question
        _check_as_of(reader)
