"""The Tantivy keyword index (store.keyword_engine: tantivy): it ranks as FTS5 does, follows every write, and a
writer killed between the registry's commit and the index's is repaired by the next one."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tantivy

from newsbot.corpus.store import Store
from newsbot.corpus.tantivy_index import TantivyIndex
from newsbot.ingest.pipeline import ingest
from newsbot.settings import Settings
from tests.conftest import ROOT, SAMPLES, assert_consistent, make_config, open_store
from tests.test_cli import newsbot_env, run, stored_articles, synthetic_corpus

QUESTIONS = ("Who controls Derna?", "flood damage dams", "Which government backs the eastern forces?")


def indexed_rows(store: Store) -> list[int]:
    """The chunk rowids the Tantivy index holds, one per document, sorted."""
    index = store._keywords
    assert index is not None and index.ready
    index.refresh()
    searcher = index._searcher
    hits = searcher.search(tantivy.Query.all_query(), max(searcher.num_docs, 1), count=False).hits
    return sorted(searcher.fast_field_values("row", [address for _, address in hits]))


def registry_rows(store: Store) -> list[int]:
    return sorted(row for (row,) in store._registry._db.execute("SELECT rowid FROM chunks"))


def registry_engine(config: Settings) -> Settings:
    return make_config(config.store.path, store={"keyword_engine": "registry"})


def test_the_default_sqlite_store_ranks_with_tantivy_as_fts5_does(store: Store, config: Settings):
    ingest([str(SAMPLES)], store)
    assert store._keywords is not None and store._keywords.ready
    assert indexed_rows(store) == registry_rows(store)
    with open_store(registry_engine(config)) as fts5:
        assert fts5._keywords is None
        for question in QUESTIONS:
            ours, theirs = store.keyword_search(question, 5), fts5.keyword_search(question, 5)
            assert ours and [cid for cid, _ in ours[:3]] == [cid for cid, _ in theirs[:3]], question
            assert store.idf(["derna", "dams"]) == pytest.approx(fts5.idf(["derna", "dams"]))


def test_a_delete_leaves_the_index_and_a_reader_sees_it(store: Store, config: Settings):
    ingest([str(SAMPLES)], store)
    (top, _), *_ = store.keyword_search("Derna", 1)
    article = store._registry.chunk_records([top])[top]["article_id"]
    deleted = {chunk.id for chunk in store.chunks_of(article)}
    with open_store(config) as reader:
        assert top in {cid for cid, _ in reader.keyword_search("Derna", 50)}
        store.delete([article])
        assert indexed_rows(store) == registry_rows(store)
        assert not deleted & {cid for cid, _ in reader.keyword_search("Derna", 50)}
        assert reader.problems() == []


def test_a_writer_killed_before_the_index_commit_is_repaired_and_check_reports_it(
    config: Settings, monkeypatch: pytest.MonkeyPatch
):
    with open_store(config, write=True) as store:
        ingest([str(SAMPLES / "libya")], store)
        before = indexed_rows(store)
        monkeypatch.setattr(TantivyIndex, "sync", lambda self, **_: 0)  # the registry commits, the index never does
        ingest([str(SAMPLES)], store)
    monkeypatch.undo()
    with open_store(config) as reader:
        assert indexed_rows(reader) == before != registry_rows(reader)
        assert any("keyword index (tantivy) at registry generation" in p for p in reader.problems())
    with open_store(config, write=True) as repaired:
        assert indexed_rows(repaired) == registry_rows(repaired)
        assert_consistent(repaired)


def test_newsbot_check_reports_a_stale_index_and_repair_fixes_it(tmp_path: Path):
    env = newsbot_env(tmp_path / "store")
    assert run("ingest", str(SAMPLES / "libya"), "--quiet", env=env).returncode == 0
    (tmp_path / "store" / "tantivy" / "state.json").unlink()  # as if a rebuild was cut short
    stale = run("check", "--json", env=env)
    assert stale.returncode == 1, stale.stderr
    assert json.loads(stale.stdout) == {"problems": ["no keyword index (tantivy): `newsbot check --repair` builds it"]}
    repaired = run("check", "--repair", env=env)
    assert repaired.returncode == 0, repaired.stderr
    assert repaired.stdout.strip() == "registry, keyword index and vectors agree"


def test_a_lost_or_foreign_index_is_rebuilt_from_the_registry(config: Settings):
    with open_store(config, write=True) as store:
        ingest([str(SAMPLES)], store)
        rows = indexed_rows(store)
    (Path(config.store.path) / "tantivy" / "state.json").write_text('{"generation": 999999}')
    with open_store(config, write=True) as store:
        assert indexed_rows(store) == rows
        assert_consistent(store)
    for path in (Path(config.store.path) / "tantivy").iterdir():
        path.unlink()
    with open_store(config) as reader:  # no index: the registry's FTS5 answers, and check says why
        assert reader.keyword_search("Derna", 3) and reader.problems() == [
            "no keyword index (tantivy): `newsbot check --repair` builds it"
        ]
    with open_store(config, write=True) as store:
        assert indexed_rows(store) == rows


def test_a_store_written_with_the_fts5_engine_gets_a_whole_index_when_switched(config: Settings):
    with open_store(config, write=True) as store:
        ingest([str(SAMPLES / "libya")], store)
    with open_store(registry_engine(config), write=True) as fts5:
        ingest([str(SAMPLES)], fts5)
        assert fts5._registry._db.execute("SELECT count(*) FROM keyword_changes").fetchone() == (0,)
    with open_store(config) as reader:
        assert any("at registry generation" in problem for problem in reader.problems())
    with open_store(config, write=True) as store:
        assert indexed_rows(store) == registry_rows(store)
        assert_consistent(store)


def test_kill_9_during_ingest_then_rerun_leaves_each_chunk_once_in_the_index(tmp_path: Path):
    corpus, store_path = tmp_path / "wire.jsonl", tmp_path / "store"
    synthetic_corpus(corpus, 120)
    env = newsbot_env(
        store_path, NEWSBOT_INGEST__BATCH_CHUNKS="12", NEWSBOT_CHUNKING__SIZE="300", NEWSBOT_CHUNKING__OVERLAP="60"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "newsbot.cli", "ingest", str(corpus), "--quiet"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300
    while stored_articles(store_path) < 10 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "ingest finished before it could be killed: " + process.stderr.read().decode()
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    final = run("ingest", str(corpus), "--quiet", env=env)
    assert final.returncode == 0, final.stderr
    with Store(make_config(store_path, chunking={"size": 300, "overlap": 60})) as reopened:
        assert len(reopened.article_ids()) == 120
        assert indexed_rows(reopened) == registry_rows(reopened)
        assert_consistent(reopened)
