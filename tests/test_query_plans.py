"""The registry queries each question (and the watch loop's poll) makes use an index, so their cost does not
grow with the store (no timed assertions: SQLite's own plan of each statement the registry runs is checked)."""

from collections.abc import Callable

import pytest

from newsbot.corpus.store import Store
from newsbot.ingest.pipeline import ingest
from newsbot.records import Filters
from tests.conftest import SAMPLES


def plans(store: Store, call: Callable[[], object]) -> list[str]:
    """SQLite's query plan of each statement ``call`` runs on the store's registry."""
    db = store._registry._db
    statements: list[str] = []
    db.set_trace_callback(statements.append)
    try:
        call()
    finally:
        db.set_trace_callback(None)
    found = []
    for statement in statements:
        if statement.lstrip().upper().startswith("SELECT"):
            found.extend(row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {statement}"))
    return found


@pytest.mark.parametrize(
    "question",
    [
        lambda store: store._registry.published_after("2024-01-01"),
        lambda store: store.keyword_search("Who controls Derna?", 10, Filters(as_of="2024-01-01")),
        lambda store: store.passages([(cid, 1.0) for cid, _ in store.keyword_search("Derna", 10)]),
        lambda store: store.articles_marker(),
        lambda store: store.newest_titles(40),
    ],
    ids=["as-of day", "keyword search", "passages", "articles changed (the watch loop)", "voice hints"],
)
def test_a_questions_registry_queries_scan_no_table(store: Store, question: Callable[[Store], object]):
    ingest([str(SAMPLES)], store)
    found = plans(store, lambda: question(store))
    scans = [plan for plan in found if plan.startswith("SCAN") and "chunk_fts" not in plan]
    assert found and all("COVERING INDEX" in plan for plan in scans), found  # count(*) reads the smallest index
