"""Crash safety under `kill -9`: ingest and `delete --source` killed at random moments, then run again.

Builds a synthetic wire corpus of six sources (written here, seeded), ingests it once uninterrupted into a
baseline store, then into a second store through ``--kills`` ingest runs each killed with SIGKILL after a
random delay, and a final run to completion; then kills ``--delete-kills`` runs of ``newsbot delete --source``
and finishes the delete. Prints, against the baseline of the same run: articles lost, duplicated (the same
text stored twice), chunks differing, and the store's own consistency problems (orphan vectors, chunks
without vectors, keyword index gaps).

    python benchmarks/kill9.py [--articles 240] [--kills 10] [--delete-kills 4] [--seed 7]

(``--articles`` a multiple of 6: six sources of equal size.)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = tuple(f"wire-{letter}" for letter in "abcdef")
WORDS = "council harbour ministry river votes budget storm league rescue court shares drought museum".split()


def write_corpus(path: Path, articles: int, rng: random.Random) -> None:
    with path.open("w", encoding="utf-8") as out:
        for i in range(articles):
            sentences = [
                f"Report {i} sentence {j} says the {rng.choice(WORDS)} {rng.choice(WORDS)} moved {rng.randint(1, 999)} "
                f"points near the {rng.choice(WORDS)}."
                for j in range(rng.randint(8, 16))
            ]
            row = {"url": f"https://wire.example/{i}", "title": f"Report {i}", "source": SOURCES[i % len(SOURCES)]}
            out.write(json.dumps({**row, "text": " ".join(sentences)}) + "\n")


def registry_counts(store: Path, source: str | None = None) -> dict[str, int]:
    if not (store / "registry.sqlite3").exists():
        return {"articles": 0, "distinct_texts": 0, "chunks": 0}
    where, args = ("WHERE source = ?", (source,)) if source else ("", ())
    with sqlite3.connect(f"file:{store / 'registry.sqlite3'}?mode=ro", uri=True, timeout=30) as db:
        articles, texts = db.execute(
            f"SELECT count(*), count(DISTINCT text_hash) FROM articles {where}", args
        ).fetchone()
        chunks = db.execute(
            f"SELECT count(*) FROM chunks WHERE article_id IN (SELECT id FROM articles {where})", args
        ).fetchone()[0]
    return {"articles": articles, "distinct_texts": texts, "chunks": chunks}


def newsbot(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "newsbot.cli", *args]
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(env: dict[str, str], *args: str, allow: str = "") -> None:
    process = newsbot(env, *args)
    _, err = process.communicate()
    if process.returncode != 0 and not (allow and allow in err.decode()):
        raise SystemExit(f"newsbot {' '.join(args)} failed: {err.decode()}")


def kill_when(env: dict[str, str], ready: Callable[[], bool], extra: float, *args: str) -> bool:
    """Run newsbot and SIGKILL it once ``ready()`` holds, ``extra`` seconds later; False when it ended first."""
    process = newsbot(env, *args)
    while process.poll() is None and not ready():
        time.sleep(0.02)
    time.sleep(extra)
    if process.poll() is not None:
        return False
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    return True


def problems(store: Path) -> list[str]:
    from newsbot.corpus.store import Store
    from newsbot.settings import load_settings

    config = load_settings(environ={"NEWSBOT_STORE__PATH": str(store)})
    with Store(config) as opened:
        return opened.problems()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=240)
    parser.add_argument("--kills", type=int, default=10, help="ingest runs killed")
    parser.add_argument("--delete-kills", type=int, default=4, help="delete --source runs killed (one source each)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="newsbot-kill9-"))
    corpus = work / "wire.jsonl"
    write_corpus(corpus, args.articles, rng)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    small = {"NEWSBOT_INGEST__BATCH_CHUNKS": "16", "NEWSBOT_CHUNKING__SIZE": "300", "NEWSBOT_CHUNKING__OVERLAP": "60"}

    def env(store: Path) -> dict[str, str]:
        return {**base_env, **small, "NEWSBOT_STORE__PATH": str(store)}

    baseline, crashed = work / "baseline", work / "crashed"
    started = time.perf_counter()
    finish(env(baseline), "ingest", str(corpus), "--quiet")
    expected = registry_counts(baseline)
    print(
        f"baseline: {expected['articles']} articles, {expected['chunks']} chunks, "
        f"uninterrupted in {time.perf_counter() - started:.0f} s"
    )

    # The first kill lands during start-up; the others once the store holds a random number of articles (a
    # random moment later), so every run dies mid-way and the next resumes where it died.
    targets = sorted(rng.sample(range(1, expected["articles"]), args.kills - 1))
    landed = [kill_when(env(crashed), lambda: True, rng.uniform(1.0, 3.0), "ingest", str(corpus), "--quiet")]
    for target in targets:
        ready = lambda target=target: registry_counts(crashed)["articles"] >= target  # noqa: E731
        landed.append(kill_when(env(crashed), ready, rng.uniform(0.0, 0.3), "ingest", str(corpus), "--quiet"))
    stored_then = registry_counts(crashed)["articles"]
    finish(env(crashed), "ingest", str(corpus), "--quiet")
    got = registry_counts(crashed)
    print(
        f"ingest: {sum(landed)} of {args.kills} kills landed mid-run ({stored_then} articles stored when the last "
        f"died); after one more run {got['articles']} articles: {expected['articles'] - got['articles']} lost, "
        f"{got['articles'] - got['distinct_texts']} duplicated; chunks {got['chunks']} (baseline "
        f"{expected['chunks']}); problems: {problems(crashed) or 'none'}"
    )

    # Each delete is killed at a random moment of its run: half once its source is gone from the registry (the
    # window before the vectors are dropped), half after a random delay from start.
    removed = {"articles": 0, "chunks": 0}
    landed = []
    for n, source in enumerate(SOURCES[: args.delete_kills]):
        share = registry_counts(baseline, source)
        removed = {key: removed[key] + share[key] for key in removed}
        if n % 2:
            gone = lambda source=source: registry_counts(crashed, source)["articles"] == 0  # noqa: E731
            landed.append(kill_when(env(crashed), gone, rng.uniform(0.0, 0.2), "delete", "--source", source))
        else:
            landed.append(kill_when(env(crashed), lambda: True, rng.uniform(0.5, 4.0), "delete", "--source", source))
        finish(env(crashed), "delete", "--source", source, allow="nothing stored")
    left = registry_counts(crashed)
    print(
        f"delete --source: {sum(landed)} of {args.delete_kills} kills landed mid-run; after each rerun "
        f"{left['articles']} articles (expected {expected['articles'] - removed['articles']}), {left['chunks']} "
        f"chunks (expected {expected['chunks'] - removed['chunks']}), "
        f"{left['articles'] - left['distinct_texts']} duplicated; problems: {problems(crashed) or 'none'}"
    )


if __name__ == "__main__":
    main()
