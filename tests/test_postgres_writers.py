"""Several `newsbot` processes on one server profile (real PostgreSQL, real `chroma run`, the real model): writers
at once without a file lock, a writer killed with SIGKILL, readers that see other processes' writes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from newsbot.corpus.store import Store
from newsbot.settings import Settings
from tests.conftest import ROOT, SAMPLES, ChromaServer, assert_consistent, make_config, open_store
from tests.feed_server import FeedServer, Page, article_page, rss
from tests.test_cli import newsbot_env, run, synthetic_corpus

pytestmark = pytest.mark.e2e

SMALL_BATCHES = {
    "NEWSBOT_INGEST__BATCH_CHUNKS": "12",
    "NEWSBOT_CHUNKING__SIZE": "300",
    "NEWSBOT_CHUNKING__OVERLAP": "60",
}


def server_env(dsn: str, chroma: ChromaServer, tmp_path: Path, **overrides: str) -> dict[str, str]:
    return newsbot_env(
        tmp_path / "unused",
        NEWSBOT_STORE__BACKEND="postgres",
        NEWSBOT_STORE__POSTGRES__DSN=dsn,
        NEWSBOT_STORE__CHROMA__MODE="http",
        NEWSBOT_STORE__CHROMA__HOST="127.0.0.1",
        NEWSBOT_STORE__CHROMA__PORT=str(chroma.port),
        **overrides,
    )


def server_config(chroma: ChromaServer, tmp_path: Path, **sections: dict) -> Settings:
    http = {"mode": "http", "host": "127.0.0.1", "port": chroma.port}
    return make_config(tmp_path / "unused", store={"backend": "postgres", "chroma": http}, **sections)


def stored(dsn: str) -> tuple[int, int]:
    """(articles, distinct texts) in the registry (none before the first process made its tables)."""
    with psycopg.connect(dsn) as db:
        if db.execute("SELECT to_regclass('articles')").fetchone()[0] is None:
            return 0, 0
        return db.execute("SELECT count(*), count(DISTINCT text_hash) FROM articles").fetchone()


def journalled(dsn: str) -> tuple[int, int]:
    """(articles stored, journal rows) while a writer runs."""
    with psycopg.connect(dsn) as db:
        if db.execute("SELECT to_regclass('pending')").fetchone()[0] is None:
            return 0, 0
        return db.execute("SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM pending)").fetchone()


def write_slice(corpus: Path, path: Path, lo: int, hi: int) -> Path:
    lines = corpus.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[lo:hi]))
    return path


def test_two_ingests_of_overlapping_inputs_at_once_store_each_article_once(
    postgres_dsn: str, chroma_server: ChromaServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    corpus = tmp_path / "wire.jsonl"
    synthetic_corpus(corpus, 90)
    first, second = write_slice(corpus, tmp_path / "a.jsonl", 0, 60), write_slice(corpus, tmp_path / "b.jsonl", 30, 90)
    env = server_env(postgres_dsn, chroma_server, tmp_path, **SMALL_BATCHES)
    command = [sys.executable, "-m", "newsbot.cli", "ingest", "--json", "--quiet"]
    processes = [
        subprocess.Popen([*command, str(part)], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for part in (first, second)
    ]
    reports = []
    for process in processes:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err.decode()
        reports.append(json.loads(out))
    assert all(r["articles_new"] + r["articles_unchanged"] + r["articles_updated"] == 60 for r in reports)
    assert stored(postgres_dsn) == (90, 90)
    monkeypatch.setenv("NEWSBOT_STORE__POSTGRES__DSN", postgres_dsn)
    with Store(server_config(chroma_server, tmp_path, chunking={"size": 300, "overlap": 60})) as reader:
        assert_consistent(reader)


def test_kill_9_of_a_writer_mid_batch_then_a_rerun_repairs(
    postgres_dsn: str, chroma_server: ChromaServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    corpus = tmp_path / "wire.jsonl"
    synthetic_corpus(corpus, 120)
    env = server_env(postgres_dsn, chroma_server, tmp_path, **SMALL_BATCHES)
    command = [sys.executable, "-m", "newsbot.cli", "ingest", str(corpus), "--quiet"]
    for _ in range(3):  # a kill lands between a batch's commit and the next journal entry once in a long while
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 300
        while not all(journalled(postgres_dsn)) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process.poll() is None, "ingest finished before it could be killed: " + process.stderr.read().decode()
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        killed_at, left = journalled(postgres_dsn)
        if left:
            break
    assert 0 < killed_at < 120 and left > 0  # killed mid-batch: vectors upserted or due, not committed

    final = run("ingest", str(corpus), "--json", "--quiet", env=env)
    assert final.returncode == 0, final.stderr
    report = json.loads(final.stdout)
    assert report["articles_new"] + report["articles_unchanged"] == 120 and report["articles_unchanged"] >= killed_at
    assert "repaired an interrupted write" in final.stderr
    assert stored(postgres_dsn) == (120, 120)
    monkeypatch.setenv("NEWSBOT_STORE__POSTGRES__DSN", postgres_dsn)
    with Store(server_config(chroma_server, tmp_path, chunking={"size": 300, "overlap": 60})) as reader:
        assert_consistent(reader)  # no orphan vector, no chunk without one, an empty journal
    with psycopg.connect(postgres_dsn) as db:
        assert db.execute("SELECT count(*) FROM writers").fetchone()[0] == 0  # the dead writer was cleared


def test_a_dead_writers_journal_is_repaired_while_another_writer_is_live(
    postgres_dsn: str, chroma_server: ChromaServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """White-box: a live writer is between its Chroma upsert and its commit; a dead one left the same state. A
    third writer starting then removes only the dead one's vector and compares no counts."""
    monkeypatch.setenv("NEWSBOT_STORE__POSTGRES__DSN", postgres_dsn)
    config = server_config(chroma_server, tmp_path)
    metadata = [{"article_id": "none", "start": 0, "end": 1, "source": "x"}]
    with open_store(config, write=True) as live:
        live._registry.journal_adds(["live-1"])
        live._vectors.upsert(["live-1"], live.encode(["live text"]), metadata)
        with open_store(config, write=True) as dying:
            dying._registry.journal_adds(["stray-1"])
            dying._vectors.upsert(["stray-1"], dying.encode(["stray text"]), metadata)
        with open_store(config, write=True) as starting:
            assert (starting.last_repair.vectors_removed, starting.last_repair.vectors_restored) == (1, 0)
            assert starting._vectors.ids() == {"live-1"}
        assert live._registry.problems() == ["1 unfinished journal entries"]  # the live writer's own row


def test_a_feed_refreshed_by_one_process_is_answered_from_by_another(
    postgres_dsn: str, chroma_server: ChromaServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    site = FeedServer()
    sentence = "The harbour of Port Ellis reopened on Thursday after a storm closed it for nine days."
    site.pages["/harbour"] = Page(body=article_page("Harbour reopens", sentence))
    site.pages["/feed"] = Page(kind="application/rss+xml", body=rss(("Harbour reopens", site.url("/harbour"), "")))
    env = server_env(postgres_dsn, chroma_server, tmp_path, NEWSBOT_INGEST__ALLOWED_HOSTS=json.dumps([site.host]))
    monkeypatch.setenv("NEWSBOT_STORE__POSTGRES__DSN", postgres_dsn)
    try:
        with Store(server_config(chroma_server, tmp_path)) as reader:  # long-lived, opened before any article
            assert reader.article_ids() == []
            assert run("feeds", "add", site.url("/feed"), "--source", "harbour", env=env).returncode == 0
            once = run("watch", "--once", "--json", env=env)
            assert once.returncode == 0, once.stderr
            (article,) = reader.article_ids()
            assert reader.passages(reader.keyword_search("When did the harbour reopen?", 3))[0].article_id == article
            assert reader.dense_search("harbour reopened after the storm", 1)[0][0].startswith(article)
        asked = run("ask", "When did the harbour of Port Ellis reopen?", "--json", env=env)
        assert asked.returncode == 0, asked.stderr
        assert article in asked.stdout
    finally:
        site.close()


def test_the_server_profile_without_a_connection_string_is_a_clear_error(chroma_server: ChromaServer, tmp_path: Path):
    env = server_env("", chroma_server, tmp_path)
    del env["NEWSBOT_STORE__POSTGRES__DSN"]
    env.pop("DATABASE_URL", None)
    done = run("stats", env=env)
    assert done.returncode == 2, done.stderr
    assert "neither NEWSBOT_STORE__POSTGRES__DSN nor DATABASE_URL is set" in done.stderr
    assert "Traceback" not in done.stderr


def test_migrate_copies_an_embedded_store_into_the_server_profile_without_re_embedding(
    postgres_dsn: str, chroma_server: ChromaServer, tmp_path: Path
):
    embedded = newsbot_env(tmp_path / "store")
    assert run("ingest", str(SAMPLES), "--quiet", env=embedded).returncode == 0
    assert run("feeds", "add", "https://news.example/feed", "--source", "example", env=embedded).returncode == 0
    migrate = (
        "migrate", "--to", "postgres", "--chroma-host", "127.0.0.1", "--chroma-port", str(chroma_server.port), "--json"
    )  # fmt: skip
    with_dsn = {**embedded, "NEWSBOT_STORE__POSTGRES__DSN": postgres_dsn}
    copied = run(*migrate, env=with_dsn)
    assert copied.returncode == 0, copied.stderr
    report = json.loads(copied.stdout)
    assert report["ok"] and report["counts"]["articles"] == {"source": 9, "target": 9}
    assert report["counts"]["vectors"]["target"] == report["counts"]["chunks"]["source"] > 9
    again = run(*migrate, env=with_dsn)  # a re-run finds the same articles: nothing to copy, the counts agree
    assert again.returncode == 0 and json.loads(again.stdout)["counts"] == report["counts"]

    server = server_env(postgres_dsn, chroma_server, tmp_path)
    feeds = json.loads(run("feeds", "list", "--json", env=server).stdout)
    assert [feed["url"] for feed in feeds] == ["https://news.example/feed"]
    answers = [json.loads(run("ask", "Who controls Derna?", "--json", env=env).stdout) for env in (embedded, server)]
    assert answers[0]["text"] == answers[1]["text"] and answers[0]["citations"] == answers[1]["citations"]

    extra = tmp_path / "extra.txt"
    extra.write_text("The bridge over the Wadi Derna reopened on Monday after repairs that took a year.")
    assert run("ingest", str(extra), "--quiet", env=server).returncode == 0
    refused = run(*migrate, env=with_dsn)
    assert refused.returncode == 2 and "already holds 1 articles that" in refused.stderr
