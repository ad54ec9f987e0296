"""The server profile's keyword index: every machine keeps a Tantivy index of the shared PostgreSQL registry under
its own store.path, fed from the registry's change log; one process per machine writes it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from newsbot.corpus import postgres_registry
from newsbot.corpus.store import Store
from newsbot.ingest.pipeline import ingest
from newsbot.settings import Settings
from tests.conftest import SAMPLES, ChromaServer, assert_consistent, open_store
from tests.test_postgres_store import server_settings
from tests.test_tantivy_index import indexed_rows, registry_rows

pytestmark = pytest.mark.e2e

WAIT_SECONDS = 60.0  # generous: a background thread on a busy two-core machine


@pytest.fixture
def machines(
    postgres_dsn: str, chroma_server: ChromaServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], Settings]:
    """The server profile as seen from a named machine: one database and Chroma, a store.path of its own, and a
    refresh interval of zero (every question looks for other machines' writes)."""
    monkeypatch.setenv("NEWSBOT_STORE__POSTGRES__DSN", postgres_dsn)

    def machine(name: str) -> Settings:
        config = server_settings(chroma_server, tmp_path / name)
        return config.model_copy(update={"store": config.store.model_copy(update={"reopen_after": 0.0})})

    return machine


def eventually(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not check():
        assert time.monotonic() < deadline, "not within the wait"
        time.sleep(0.2)


def articles_found(store: Store, query: str) -> set[str]:
    return {passage.article_id for passage in store.passages(store.keyword_search(query, 20))}


def test_a_long_lived_reader_builds_its_machines_index_and_follows_other_machines_writes(
    machines: Callable[[str], Settings],
):
    with open_store(machines("ingest"), write=True) as writer:
        ingest([str(SAMPLES / "libya")], writer)
        libya = set(writer.article_ids(source="libya"))
        with open_store(machines("bot")) as bot:
            assert bot._keyword_index() is None  # no index on this machine yet: PostgreSQL's postings answer
            assert articles_found(bot, "Who controls Derna?") & libya
            bot.keep_keyword_index()  # as `newsbot bot` and `newsbot serve` do
            eventually(lambda: bot._keyword_index() is not None)
            assert indexed_rows(bot) == registry_rows(writer)
            assert articles_found(bot, "Who controls Derna?") & libya

            ingest([str(SAMPLES / "world")], writer)  # another machine writes
            eventually(lambda: bool(articles_found(bot, "Pluto flyby") - libya))
            assert bot._keyword_index() is not None  # found by this machine's index
            eventually(lambda: indexed_rows(bot) == registry_rows(writer))

            writer.delete(sorted(libya))
            assert not articles_found(bot, "Who controls Derna?") & libya  # gone at once, before the index knows
            eventually(lambda: bot.problems() == [])
            assert indexed_rows(bot) == registry_rows(writer)
        assert_consistent(writer)


def test_an_index_further_behind_than_the_kept_log_is_rebuilt(
    machines: Callable[[str], Settings], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(postgres_registry, "KEYWORD_CHANGES_KEPT", 1)
    with open_store(machines("ingest"), write=True) as writer:
        ingest([str(SAMPLES / "libya")], writer)
        with open_store(machines("bot"), write=True) as bot:  # a writer builds its machine's index
            generation = bot._keywords.generation()
            assert generation == writer._registry.keyword_generation() and indexed_rows(bot) == registry_rows(writer)
        ingest([str(SAMPLES / "world")], writer)  # its own index's commit trims all but the newest change
        assert writer._registry.keyword_changes(generation) is None
        with open_store(machines("bot")) as bot:
            problems = bot.problems()  # the log cannot bring it up to date: reported, left as it is
            assert problems and "keyword index (tantivy) at registry generation" in problems[0]
        with open_store(machines("bot"), write=True) as bot:
            assert indexed_rows(bot) == registry_rows(writer)
            assert bot.problems() == []


def test_one_process_per_machine_writes_its_index_and_another_takes_over_when_it_ends(
    machines: Callable[[str], Settings],
):
    with open_store(machines("ingest"), write=True) as writer:
        ingest([str(SAMPLES / "libya")], writer)
        first = open_store(machines("bot"))
        first.keep_keyword_index()
        eventually(lambda: first._keyword_index() is not None)
        with open_store(machines("bot")) as second:  # a second replica on the same machine reads that index
            assert first._keywords.writable and not second._keywords.writable
            second.keep_keyword_index()
            eventually(lambda: second._keyword_index() is not None)
            first.close()
            eventually(lambda: second._keywords.writable)
            ingest([str(SAMPLES / "world")], writer)
            eventually(lambda: indexed_rows(second) == registry_rows(writer))
            assert second.problems() == []
