"""Schema versions: numbered migrations applied at open, stores made before them upgraded without loss."""

import sqlite3
from pathlib import Path

from newsbot.corpus.schema import migrations
from newsbot.ingest.pipeline import ingest
from newsbot.text import KEYWORD_TOKENIZER
from tests.conftest import SAMPLES, assert_consistent, make_config, open_store


def test_a_store_made_before_migrations_and_before_feeds_is_upgraded_without_loss(tmp_path: Path):
    config = make_config(tmp_path / "store")
    with open_store(config, write=True) as store:
        ingest([str(SAMPLES)], store)
        before = {**store.summary(), "vectors": store.stats()["vectors"]}
    registry = tmp_path / "store" / "registry.sqlite3"
    with sqlite3.connect(registry) as db:  # the layout of a store from before schema versions and feeds
        db.executescript("DROP TABLE schema_version; DROP TABLE feeds; DROP TABLE watches;")
    with open_store(config, write=True) as upgraded:
        assert {**upgraded.summary(), "vectors": upgraded.stats()["vectors"]} == before
        assert upgraded.add_feed("https://news.example/feed", 900.0)
        assert upgraded.add_watch(None, "Who controls Derna?", set(), cap=3) is not None
        assert_consistent(upgraded)
    with sqlite3.connect(registry) as db:
        assert db.execute("SELECT version, name FROM schema_version").fetchall() == [
            (1, "0001_initial"),
            (2, "0002_keyword_changes"),
            (3, "0003_articles_ingested"),
        ]


def test_migrations_are_numbered_from_one_without_gaps_and_use_the_stemmer_of_keyword_search():
    for backend in ("sqlite", "postgres"):
        assert [version for version, _, _ in migrations(backend)] == list(range(1, len(migrations(backend)) + 1))
    assert f"tokenize = '{KEYWORD_TOKENIZER}'" in migrations("sqlite")[0][2]
