"""Load on the real bot: ``--chats`` chats asking at once for ``--seconds`` through the loopback Bot API, which
delivers each update to the webhook as Telegram does (``--redeliver``: the share of updates delivered twice, as
Telegram retries a webhook that gave no 200 in time).

Two set-ups in one run, each `newsbot bot` in webhook mode behind the same loopback proxy:

* embedded: one process, the default profile (SQLite registry and bot state, embedded Chroma);
* replicas: ``--replicas`` processes on the server profile (registry and bot state in PostgreSQL, vectors on a
  `chroma run` server), the proxy alternating updates between them.

Each chat asks a question, waits for its answer, asks the next. Prints for each set-up: answers a second, time
to answer (p50, p99), questions lost (no answer within ``--grace`` s after the end; failed: the bot apologised)
and answered more than once, and each bot process's RSS over time (VmRSS from /proc, sampled every second).

    python -m benchmarks.load_bench [--chats 50] [--seconds 60] [--replicas 2] [--redeliver 0.05]

(run from the repository root with the dev extra installed: it uses the tests' loopback servers.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.scale_bench import status_mb
from newsbot.corpus.store import Store
from newsbot.ingest.pipeline import ingest
from tests.bot_replicas import BotProcess, start_replicas, webhook_env
from tests.conftest import ROOT, SAMPLES, TELEGRAM_TOKEN, ChromaServer, free_port, make_config
from tests.fake_telegram import FakeTelegram
from tests.postgres_server import PostgresServer
from tests.test_cli import newsbot_env

QUESTIONS = [json.loads(line)["question"] for line in (ROOT / "examples" / "questions.jsonl").open()]
FIRST_CHAT = 50_000
APOLOGY = "Sorry, something went wrong"  # the bot's reply when answering failed (it counts as lost)


class TimedTelegram(FakeTelegram):
    """The loopback Bot API, noting when each question (by message id) got an answer."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.answered: dict[int, list[float]] = {}  # question's message id -> when each answer came
        self.arrived: dict[int, asyncio.Event] = {}
        self.update_of: dict[int, dict[str, Any]] = {}  # question's message id -> its update

    async def _push(self, update: dict[str, Any]) -> dict[str, Any]:
        if "message" in update:
            self.update_of[update["message"]["message_id"]] = update
            self.arrived[update["message"]["message_id"]] = asyncio.Event()
        return await super()._push(update)

    async def _sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        question = (params.get("reply_parameters") or {}).get("message_id")
        if question is not None:
            self.answered.setdefault(int(question), []).append(time.monotonic())
            if int(question) in self.arrived:
                self.arrived[int(question)].set()
        return await super()._sendMessage(params)


@dataclass
class RssSampler:
    """VmRSS of each process, once a second, in a thread."""

    pids: list[int]
    samples: list[tuple[float, list[int]]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._started = time.monotonic()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.samples.append((time.monotonic() - self._started, [vm_rss(pid) for pid in self.pids]))

    def stop(self) -> None:
        self._stop.set()


def vm_rss(pid: int) -> int:
    """Resident memory of ``pid`` in bytes (0 once it has exited)."""
    with contextlib.suppress(OSError):
        return int(status_mb(pid=pid).get("VmRSS", 0) * 1024 * 1024)
    return 0


@dataclass
class Result:
    name: str
    seconds: float
    asked: int
    latencies: list[float]
    lost: int
    twice: int
    failed: int
    redelivered: int
    rss: list[tuple[float, list[int]]]


async def chat_loop(
    fake: TimedTelegram, chat_id: int, until: float, rng: random.Random, redeliver: float
) -> list[tuple[int, float]]:
    """One chat asking question after question until ``until``: (message id, when asked) of each question."""
    chat, asked = fake.chat(chat_id), []
    while time.monotonic() < until:
        at = time.monotonic()
        message = await fake.send(chat, chat_id, rng.choice(QUESTIONS))
        asked.append((message["message_id"], at))
        if rng.random() < redeliver:
            await fake.redeliver(fake.update_of[message["message_id"]])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fake.arrived[message["message_id"]].wait(), timeout=until - time.monotonic() + 1)
    return asked


async def load(name: str, env: dict[str, str], count: int, args: argparse.Namespace, logs: Path) -> Result:
    fake = TimedTelegram(TELEGRAM_TOKEN)
    await fake.start()
    bots: list[BotProcess] = []
    logs.mkdir()
    try:
        env = webhook_env(env, fake.base_url, fake.base_file_url)
        bots, proxy = await asyncio.to_thread(start_replicas, count, env, logs)
        sampler = RssSampler([bot.process.pid for bot in bots])
        rng = random.Random(7)
        started = time.monotonic()
        until = started + args.seconds
        chats = [
            chat_loop(fake, FIRST_CHAT + i, until, random.Random(rng.random()), args.redeliver)
            for i in range(args.chats)
        ]
        asked = [item for items in await asyncio.gather(*chats) for item in items]
        deadline = time.monotonic() + args.grace
        while time.monotonic() < deadline and any(m not in fake.answered for m, _ in asked):
            await asyncio.sleep(0.2)
        elapsed = time.monotonic() - started
        sampler.stop()
        updates = [update_id for _, update_id in proxy.routed]
        latencies = [fake.answered[m][0] - at for m, at in asked if m in fake.answered]
        return Result(
            name,
            elapsed,
            len(asked),
            latencies,
            lost=sum(m not in fake.answered for m, _ in asked),
            twice=sum(len(fake.answered.get(m, [])) > 1 for m, _ in asked),
            failed=sum(m["text"].startswith(APOLOGY) for m in fake.requests("sendMessage")),
            redelivered=len(updates) - len(set(updates)),
            rss=sampler.samples,
        )
    finally:
        for bot in bots:
            await asyncio.to_thread(bot.stop)
        await fake.close()


def build_store(config_path: Path, **store: Any) -> None:
    with Store(make_config(config_path, store=store), write=True) as opened:
        report = ingest([str(SAMPLES)], opened)
    assert report.ok, report.failures


@contextlib.contextmanager
def servers() -> Iterator[tuple[ChromaServer, PostgresServer, str]]:
    folder = Path(tempfile.mkdtemp(prefix="newsbot-load-"))
    chroma, postgres = ChromaServer(free_port(), folder / "chroma"), PostgresServer(free_port())
    chroma.start()
    postgres.start()
    try:
        yield chroma, postgres, postgres.database()
    finally:
        chroma.stop()
        postgres.stop()


def report(result: Result) -> None:
    latencies = sorted(result.latencies)
    p50 = statistics.median(latencies) if latencies else float("nan")
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else float("nan")
    print(
        f"{result.name:<10} {len(latencies) / result.seconds:6.2f} answers/s  p50 {p50:5.2f} s  p99 {p99:5.2f} s  "
        f"asked {result.asked}  lost {result.lost} (failed {result.failed})  answered twice {result.twice}  "
        f"delivered twice {result.redelivered}"
    )
    for at, rss in result.rss[:: max(1, len(result.rss) // 6)] + result.rss[-1:]:
        print(f"    t={at:5.0f} s  RSS " + "  ".join(f"{value / 2**20:6.0f} MiB" for value in rss))
    peaks = [max(rss[i] for _, rss in result.rss) / 2**20 for i in range(len(result.rss[0][1]))] if result.rss else []
    print("    peak RSS " + "  ".join(f"{peak:.0f} MiB" for peak in peaks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--redeliver", type=float, default=0.05, help="share of updates delivered twice")
    parser.add_argument("--grace", type=float, default=120.0, help="seconds to wait for the last answers")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="newsbot-load-"))
    build_store(work / "embedded")
    results = [asyncio.run(load("embedded", newsbot_env(work / "embedded"), 1, args, work / "embedded-logs"))]
    with servers() as (chroma, _, dsn):
        http = {"mode": "http", "host": "127.0.0.1", "port": chroma.port}
        env = newsbot_env(
            work / "server",
            NEWSBOT_STORE__BACKEND="postgres",
            NEWSBOT_STORE__POSTGRES__DSN=dsn,
            NEWSBOT_STORE__CHROMA__MODE="http",
            NEWSBOT_STORE__CHROMA__HOST="127.0.0.1",
            NEWSBOT_STORE__CHROMA__PORT=str(chroma.port),
        )
        os.environ["NEWSBOT_STORE__POSTGRES__DSN"] = dsn  # the store's only source of it
        build_store(work / "server", backend="postgres", chroma=http)
        results.append(asyncio.run(load("replicas", env, args.replicas, args, work / "replicas-logs")))
    print(f"{args.chats} chats for {args.seconds:g} s, {args.redeliver:.0%} of updates delivered twice; logs in {work}")
    for result in results:
        report(result)


if __name__ == "__main__":
    main()
