"""Keyword search: which terms a query asks for, and filters applied as FTS5 applies them after it ranks; every
test runs on both engines (store.keyword_engine: registry, tantivy)."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsbot.corpus import registry
from newsbot.corpus.store import Store
from newsbot.ingest.pipeline import ingest
from newsbot.records import Filters
from newsbot.settings import Settings
from newsbot.text import content_terms, keyword_terms
from tests.conftest import make_config, open_store


@pytest.fixture(params=["registry", "tantivy"])
def config(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    return make_config(tmp_path / "store", store={"keyword_engine": request.param})


@pytest.fixture
def store(config: Settings) -> Iterator[Store]:
    with open_store(config, write=True) as opened:
        assert (opened._keywords is not None) == (config.store.keyword_engine == "tantivy")
        yield opened


def test_single_letters_are_no_query_terms():
    assert content_terms("Trump's U.S. visit in 2025, part 2") == ["trump", "visit", "2025", "part", "2"]
    assert keyword_terms("Who is it?") == ["who", "is", "it"]


def ingest_reports(store: Store, folder: Path, count: int) -> None:
    """``count`` dated reports about a harbour, one more harbour word each (the latest ranks first), and
    one undated report."""
    rows = [
        {
            "url": f"https://example.org/{day}",
            "title": f"Report {day}",
            "published": f"2025-01-{day:02d}",
            "text": "The harbour " + "harbour " * day + f"reopened on day {day}.",
        }
        for day in range(1, count + 1)
    ]
    rows.append({"url": "https://example.org/undated", "title": "Undated", "text": "A harbour without a date."})
    path = folder / "reports.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows), encoding="utf-8")
    ingest([str(path)], store)


def days(store: Store, hits: list[tuple[str, float]]) -> list[str]:
    return [store.article(store._registry.chunk_records([cid])[cid]["article_id"]).title for cid, _ in hits]


def test_a_possessive_matches_its_name_only(store: Store, tmp_path: Path):
    path = tmp_path / "two.jsonl"
    rows = [
        {"url": "https://example.org/a", "title": "A", "text": "Trump's plan was announced."},
        {"url": "https://example.org/b", "title": "B", "text": "The city's plan was announced. It's the mayor's."},
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows), encoding="utf-8")
    ingest([str(path)], store)
    assert days(store, store.keyword_search("Trump's", 5)) == ["A"]


def test_filters_keep_the_best_passing_matches_beyond_the_prefilter(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(registry, "PREFILTER", 2)
    ingest_reports(store, tmp_path, 12)
    assert days(store, store.keyword_search("harbour", 3))[:3] == ["Report 12", "Report 11", "Report 10"]
    # the 6 best matches are all after the 3rd: every match is ranked under the filter
    early = store.keyword_search("harbour", 3, Filters(until="2025-01-03"))
    assert days(store, early) == ["Report 3", "Report 2", "Report 1"]
    as_of = store.keyword_search("harbour", 3, Filters(as_of="2025-01-02"))
    assert sorted(days(store, as_of)) == ["Report 1", "Report 2", "Undated"]
    late = store.keyword_search("harbour", 3, Filters(since="2025-01-09"))
    assert days(store, late) == ["Report 12", "Report 11", "Report 10"]
    wanted = frozenset(store.resolve(f"https://example.org/{day}") for day in (2, 5))
    assert days(store, store.keyword_search("harbour", 3, Filters(article_ids=wanted))) == ["Report 5", "Report 2"]
    assert store.keyword_search("harbour", 3, Filters(source="elsewhere")) == []


def test_scores_fall_and_match_the_unfiltered_ranking(store: Store, tmp_path: Path):
    ingest_reports(store, tmp_path, 5)
    hits = store.keyword_search("harbour reopened", 10)
    scores = [score for _, score in hits]
    assert scores == sorted(scores, reverse=True) and all(score > 0 for score in scores)
    assert store.keyword_search("harbour reopened", 10, Filters(as_of="2030-01-01")) == hits


def test_term_weights_follow_writes_of_this_and_other_connections(store: Store, config: Settings, tmp_path: Path):
    ingest_reports(store, tmp_path, 3)
    first = store.idf(["harbour", "ferry"])
    assert first["ferry"] > first["harbour"] and store.idf(["harbour", "ferry"]) == first
    before = set(store.article_ids())
    (tmp_path / "ferry.txt").write_text("The ferry sailed.", encoding="utf-8")
    ingest([str(tmp_path / "ferry.txt")], store)
    (ferry,) = set(store.article_ids()) - before
    second = store.idf(["harbour", "ferry"])
    assert second["ferry"] < first["ferry"]
    with open_store(config) as reader:
        assert reader.idf(["harbour", "ferry"]) == second
        store.delete([ferry])
        assert reader.idf(["harbour", "ferry"])["ferry"] > second["ferry"]
