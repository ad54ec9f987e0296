"""The ``newsbot`` command as users and scripts run it: real subprocesses, real store, real model."""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from newsbot.corpus.store import Store
from tests.conftest import ROOT, SAMPLES, WebServer, assert_consistent, make_config
from tests.fake_openai import FakeOpenAI, cited

pytestmark = pytest.mark.e2e

REPORT_KEYS = {
    "articles_new",
    "articles_updated",
    "articles_unchanged",
    "articles_failed",
    "chunks_added",
    "chunks_deleted",
    "seconds",
    "failures",
}


def newsbot_env(store: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    env["NEWSBOT_STORE__PATH"] = str(store)
    env.update(overrides)
    return env


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsbot.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_ingest_json_summary_stats_and_delete(tmp_path: Path):
    env = newsbot_env(tmp_path / "store")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    done = run("ingest", str(SAMPLES), str(empty), "--json", env=env)
    assert done.returncode == 1, done.stderr  # one input failed
    report = json.loads(done.stdout)
    assert report.keys() >= REPORT_KEYS
    assert (report["articles_new"], report["articles_failed"]) == (9, 1)
    assert report["failures"] == [{"input": str(empty), "error": "empty input"}]
    assert "Traceback" not in done.stderr

    stats = json.loads(run("stats", "--json", env=env).stdout)
    assert stats["articles"] == 9 and stats["chunks"] == stats["vectors"] == report["chunks_added"]
    assert (stats["first_published"], stats["last_published"]) == ("2015-04-26", "2016-02-11")
    assert stats["model"] == "sentence-transformers/all-MiniLM-L6-v2" and stats["dimension"] == 384
    assert stats["sources"]["newsbot-samples"] == 6
    assert stats["store_path"] == str((tmp_path / "store").resolve()) and stats["size_bytes"] > 0

    human = run("stats", env=env)
    assert human.returncode == 0 and "articles   9" in human.stdout

    closed = subprocess.Popen(
        [sys.executable, "-m", "newsbot.cli", "stats"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    closed.stdout.close()  # like `newsbot stats | head -0`: the reader is gone before anything is printed
    assert closed.wait(timeout=600) == 0
    assert b"Traceback" not in closed.stderr.read()

    removed = run("delete", "--source", "newsbot-samples", "--json", env=env)
    assert removed.returncode == 0 and json.loads(removed.stdout)["articles_deleted"] == 6
    missing = run("delete", "0000000000000000", env=env)
    assert missing.returncode == 1 and "nothing stored for article 0000000000000000" in missing.stderr
    assert json.loads(run("stats", "--json", env=env).stdout)["articles"] == 3


def test_clear_errors_for_bad_config_and_model_mismatch(tmp_path: Path):
    store = tmp_path / "store"
    bad = run("stats", env=newsbot_env(store, NEWSBOT_CHUNKING__SIZE="big"))
    assert bad.returncode == 2
    assert "chunking.size" in bad.stderr and "NEWSBOT_CHUNKING__SIZE" in bad.stderr and "Traceback" not in bad.stderr

    with Store(make_config(store), write=True) as opened:
        opened._registry.set_meta({"embedding_model": "some/other-model", "embedding_dimension": "768"})
    refused = run("ingest", str(SAMPLES / "libya"), env=newsbot_env(store))
    assert refused.returncode == 2
    assert "built with embedding model 'some/other-model'" in refused.stderr and "Traceback" not in refused.stderr


def synthetic_corpus(path: Path, count: int) -> None:
    rng = random.Random(7)
    words = [
        "council",
        "harbour",
        "storm",
        "budget",
        "election",
        "river",
        "bridge",
        "school",
        "market",
        "festival",
        "court",
        "mayor",
        "police",
    ]
    with path.open("w") as out:
        for i in range(count):
            sentences = [
                f"Report {i} line {j}: the {rng.choice(words)} and the {rng.choice(words)} were discussed at "
                f"length by {rng.randint(2, 900)} residents on day {rng.randint(1, 28)}."
                for j in range(rng.randint(6, 14))
            ]
            out.write(
                json.dumps({"url": f"https://wire.example/{i}", "title": f"Report {i}", "text": " ".join(sentences)})
            )
            out.write("\n")


def stored_articles(store: Path) -> int:
    registry = store / "registry.sqlite3"
    if not registry.exists():
        return 0
    with sqlite3.connect(f"file:{registry}?mode=ro", uri=True, timeout=5) as db:
        try:
            return db.execute("SELECT count(*) FROM articles").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def test_kill_9_during_bulk_ingest_then_rerun_leaves_each_article_once(tmp_path: Path):
    corpus, store = tmp_path / "wire.jsonl", tmp_path / "store"
    synthetic_corpus(corpus, 160)
    env = newsbot_env(
        store, NEWSBOT_INGEST__BATCH_CHUNKS="12", NEWSBOT_CHUNKING__SIZE="300", NEWSBOT_CHUNKING__OVERLAP="60"
    )
    command = [sys.executable, "-m", "newsbot.cli", "ingest", str(corpus), "--quiet"]
    killed_at = []
    for extra_delay in (0.0, 0.7):
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        target = stored_articles(store) + 1
        deadline = time.monotonic() + 300
        while stored_articles(store) < target and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(extra_delay)
        assert process.poll() is None, "ingest finished before it could be killed: " + process.stderr.read().decode()
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        killed_at.append(stored_articles(store))
    assert 0 < killed_at[0] <= killed_at[1] < 160

    final = run("ingest", str(corpus), "--json", "--quiet", env=env)
    assert final.returncode == 0, final.stderr
    report = json.loads(final.stdout)
    assert report["articles_new"] + report["articles_unchanged"] == 160
    assert report["articles_unchanged"] >= killed_at[1]
    with Store(make_config(store, chunking={"size": 300, "overlap": 60})) as reopened:
        assert len(reopened.article_ids()) == 160
        assert_consistent(reopened)


def test_repair_removes_stray_vectors_and_restores_lost_ones(tmp_path: Path):
    config = make_config(tmp_path / "store")
    with Store(config, write=True) as store:
        from newsbot.ingest.pipeline import ingest

        ingest([str(SAMPLES / "libya")], store)
        lost = sorted(store._registry.chunk_ids())[:2]
        store._vectors.delete(lost)  # Chroma lost two vectors on its own
        store._registry.journal_adds(["stray-1"])  # a writer died between Chroma upsert and registry commit
        vector = store.encode(["stray text"])
        store._vectors.upsert(["stray-1"], vector, [{"article_id": "none", "start": 0, "end": 1, "source": "x"}])
    with Store(config, write=True) as repaired:
        assert (repaired.last_repair.vectors_removed, repaired.last_repair.vectors_restored) == (1, 2)
        assert_consistent(repaired)


def test_the_bot_without_a_token_exits_with_a_clear_message(tmp_path: Path):
    env = newsbot_env(tmp_path / "store")
    env.pop("TELEGRAM_BOT_TOKEN", None)
    done = run("bot", env=env)
    assert done.returncode == 2
    assert "TELEGRAM_BOT_TOKEN is not set" in done.stderr and "Traceback" not in done.stderr


def test_ask_with_an_llm_streams_its_unchecked_words_then_prints_the_checked_answer(tmp_path: Path, web: WebServer):
    llm = FakeOpenAI(web)
    env = newsbot_env(
        tmp_path / "store",
        NEWSBOT_LLM__PROVIDER="openai",
        NEWSBOT_LLM__BASE_URL=llm.base_url,
        NEWSBOT_LLM__MODEL="scripted",
    )
    assert run("ingest", str(SAMPLES / "libya"), env=env).returncode == 0
    question = ("ask", "Who governs Tripoli?", "--as-of", "2015-06-20")
    llm.replies.extend([cited("a second, self-declared government", "self-declared")] * 2)
    streamed = run(*question, env=env)
    assert streamed.returncode == 0, streamed.stderr
    assert "unchecked: a second, self-declared government\n" in streamed.stderr
    assert streamed.stdout.startswith("a second, self-declared government [1]\n\n[1] newsbot-samples, 15 June 2015: “")
    assert "\n\nSources:\n[1] " in streamed.stdout
    quiet = run(*question, "--no-stream", env=env)
    assert quiet.stdout == streamed.stdout and "unchecked" not in quiet.stderr
