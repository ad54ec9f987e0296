"""The server profile's store: the registry in a real PostgreSQL server, the vectors on a real `chroma run`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from newsbot.corpus.postgres_registry import IMPACT, TOP_OF_EACH_TERM, keyword_sql
from newsbot.corpus.store import Store
from newsbot.ingest.pipeline import ingest
from newsbot.records import Filters
from newsbot.settings import Settings
from tests.conftest import SAMPLES, ChromaServer, assert_consistent, make_config, open_store

pytestmark = pytest.mark.e2e

QUERIES = [
    "Who controls Derna?",
    "earthquake Nepal death toll",
    "What did the flyby find on Pluto?",
    "governments of Libya parliament",
    "Who fought for Derna and who said so?",
]


def server_settings(chroma: ChromaServer, path: Path, keyword_engine: str = "auto") -> Settings:
    return make_config(
        path,
        store={
            "backend": "postgres",
            "keyword_engine": keyword_engine,
            "chroma": {"mode": "http", "host": "127.0.0.1", "port": chroma.port},
        },
    )


@pytest.fixture
def server_config(
    postgres_dsn: str, chroma_server: ChromaServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """The server profile: the DSN in the environment (its only source), Chroma over HTTP."""
    monkeypatch.setenv("NEWSBOT_STORE__POSTGRES__DSN", postgres_dsn)
    return server_settings(chroma_server, tmp_path / "unused")


@pytest.fixture
def server_store(server_config: Settings) -> Iterator[Store]:
    with open_store(server_config, write=True) as store:
        yield store


@pytest.fixture
def postings_store(server_config: Settings) -> Iterator[Store]:
    """The server profile searching PostgreSQL's own postings table (store.keyword_engine: registry)."""
    config = server_config.model_copy(
        update={"store": server_config.store.model_copy(update={"keyword_engine": "registry"})}
    )
    with open_store(config, write=True) as store:
        yield store


def test_the_store_api_on_postgres(server_store: Store, server_config: Settings):
    report = ingest([str(SAMPLES)], server_store)
    assert (report.articles_new, report.articles_failed) == (9, 0)
    summary = server_store.stats()
    assert (summary["articles"], summary["chunks"], summary["vectors"]) == (9, report.chunks_added, report.chunks_added)
    assert summary["store_path"].startswith("postgresql://127.0.0.1:") and summary["size_bytes"] > 0
    registry_id = server_store._registry.meta()["registry_id"]  # store.path holds this machine's keyword index only
    assert {p.name for p in Path(server_config.store.path).iterdir()} == {
        f"tantivy-{registry_id}",
        f"tantivy-{registry_id}.lock",
    }
    assert_consistent(server_store)

    again = ingest([str(SAMPLES)], server_store)
    assert (again.articles_unchanged, again.chunks_added) == (9, 0)
    assert server_store.newest_titles(9) == embedded_newest_titles(server_config)
    hits = server_store.keyword_search("Who controls Derna?", 5)
    assert hits and "Derna" in server_store.passages(hits)[0].text
    assert server_store.dense_search("Derna", 3)

    libya = server_store.article_ids(source="libya")
    removed = server_store.delete(libya)
    assert removed > 0 and server_store.article_ids(source="libya") == []
    left = server_store.passages(server_store.keyword_search("Derna", 10))
    assert not {passage.article_id for passage in left} & set(libya)
    assert_consistent(server_store)


def test_keyword_search_ranks_as_fts5_does(postings_store: Store, tmp_path: Path):
    """Same tokens, same BM25: the PostgreSQL index returns FTS5's chunks in FTS5's order with its scores."""
    assert_ranks_as_embedded(postings_store, make_config(tmp_path / "sqlite", store={"keyword_engine": "registry"}))


def test_the_machines_tantivy_index_ranks_as_the_embedded_stores_does(server_store: Store, tmp_path: Path):
    """The default keyword engine of the server profile: a Tantivy index on this machine, fed from PostgreSQL's
    change log, ranks as the embedded store's own Tantivy index does."""
    assert_ranks_as_embedded(server_store, make_config(tmp_path / "sqlite"))
    assert server_store._keyword_index() is not None  # Tantivy answered, not the registry


def assert_ranks_as_embedded(server_store: Store, embedded_config: Settings) -> None:
    with open_store(embedded_config, write=True) as embedded:
        ingest([str(SAMPLES)], embedded)
        ingest([str(SAMPLES)], server_store)
        for query in QUERIES:
            assert_same_ranking(server_store.keyword_search(query, 10), embedded.keyword_search(query, 10))
        libya = Filters(source="libya", until="2024-12-31")
        assert_same_ranking(
            server_store.keyword_search("Derna", 10, libya), embedded.keyword_search("Derna", 10, libya)
        )
        assert server_store.idf(["derna", "won"]) == pytest.approx(embedded.idf(["derna", "won"]))


def assert_same_ranking(found: list[tuple[str, float]], expected: list[tuple[str, float]]) -> None:
    assert expected and [cid for cid, _ in found] == [cid for cid, _ in expected]
    assert [score for _, score in found] == pytest.approx([score for _, score in expected], rel=1e-9)


def test_feeds_and_watches_are_shared_by_every_process(server_store: Store, server_config: Settings):
    assert server_store.add_feed("https://news.example/feed", 900.0, "example")
    with open_store(server_config) as reader:
        assert [feed.url for feed in reader.feeds()] == ["https://news.example/feed"]
        assert reader.add_watch(7, "Who controls Derna?", {"a1"}, cap=1) is not None
        assert reader.add_watch(7, "Who won?", set(), cap=1) is None
    [watch] = server_store.watches(7)
    assert (watch.question, watch.seen) == ("Who controls Derna?", frozenset({"a1"}))
    server_store.set_seen(watch.id, {"a1", "a2"})
    assert server_store.watches(every_chat=True)[0].seen == {"a1", "a2"}
    assert server_store.remove_feed("https://news.example/feed") and server_store.feeds() == []


def test_migrations_run_once_and_are_recorded(server_store: Store, postgres_dsn: str, server_config: Settings):
    with open_store(server_config):
        pass  # a second process opening the same database applies nothing again
    with psycopg.connect(postgres_dsn) as db:
        versions = db.execute("SELECT version, name FROM schema_version ORDER BY version").fetchall()
    assert versions[0] == (1, "0001_initial")


def test_a_large_stores_keyword_search_reads_the_top_of_each_terms_postings(postings_store: Store, tmp_path: Path):
    """When a question's terms hold more postings than ``keyword_pool``, only the best ``keyword_depth`` of each
    term are read: the chunks found are still scored exactly, read deep enough they are FTS5's, and when too few
    pass a filter every match is ranked."""
    fts5 = make_config(tmp_path / "sqlite", store={"keyword_engine": "registry"})
    registry = postings_store._registry
    with open_store(fts5, write=True) as embedded:
        ingest([str(SAMPLES)], embedded)
        ingest([str(SAMPLES)], postings_store)
        registry.keyword_pool = 8  # the samples' question terms hold 10-40 postings
        for query in QUERIES:
            assert_same_ranking(postings_store.keyword_search(query, 3), embedded.keyword_search(query, 3))

        registry.keyword_depth = 1  # each term's best posting alone (one of the best, when tied): the candidates
        query = "Who fought for Derna and who said so?"
        tops = {
            cid
            for (cid,) in registry._rows(
                f"SELECT c.id FROM postings p JOIN chunks c ON c.rowid = p.chunk WHERE (p.term, {IMPACT}) IN "
                f"(SELECT p.term, max({IMPACT}) FROM postings p WHERE p.term = ANY(%s) GROUP BY p.term)",
                (["fought", "fight", "derna", "said", "sai"],),  # the query's tokens (forms of its key terms)
            )
        }
        exact = dict(embedded.keyword_search(query, 1000))
        assert not set(list(exact)[:3]) <= tops  # reading every posting finds others
        found = postings_store.keyword_search(query, 3)
        assert len(found) == 3 and {cid for cid, _ in found} <= tops
        assert dict(found) == pytest.approx({cid: exact[cid] for cid, _ in found}, rel=1e-9)  # exact scores

        libya = Filters(source="libya", until="2024-12-31")  # the top postings are mostly not Libya's
        assert_same_ranking(postings_store.keyword_search(query, 10, libya), embedded.keyword_search(query, 10, libya))


def test_the_top_of_a_terms_postings_is_read_from_its_index(server_store: Store):
    """The impact order is an index (migration 0002 and postgres_registry.IMPACT spell one expression): a term's
    best postings are the first entries of an index scan, not a sort of all of them."""
    ingest([str(SAMPLES)], server_store)
    db = server_store._registry._db
    with db.transaction():
        for plan_kind in ("seqscan", "bitmapscan", "sort"):  # the samples are small enough to scan and sort
            db.execute(f"SET LOCAL enable_{plan_kind} = off")
        sql = keyword_sql(TOP_OF_EACH_TERM, "")
        (plan,) = db.execute(f"EXPLAIN (FORMAT JSON) {sql}", (["derna", "who"], 5, 20, 10)).fetchone()[0]

    def limited_scans(node: dict) -> Iterator[str]:
        children = node.get("Plans", [])
        if node["Node Type"] == "Limit" and children and "Index" in children[0]["Node Type"]:
            yield children[0]["Index Name"]
        for child in children:
            yield from limited_scans(child)

    assert "postings_impact" in set(limited_scans(plan["Plan"]))


def embedded_newest_titles(server_config: Settings) -> list[str]:
    """The samples' titles, newest first, as the embedded profile's registry lists them."""
    with open_store(make_config(Path(server_config.store.path).parent / "embedded"), write=True) as store:
        ingest([str(SAMPLES)], store)
        return store.newest_titles(9)
