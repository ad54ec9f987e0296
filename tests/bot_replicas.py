"""Replicas of `newsbot bot` in webhook mode behind a loopback proxy that alternates requests between them, as a
round-robin load balancer does: for the replica tests and benchmarks/load_bench.py."""

from __future__ import annotations

import itertools
import json
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx

from tests.conftest import ROOT, TELEGRAM_TOKEN, LoopbackServer, free_port

WEBHOOK_SECRET = "replica-webhook-secret"
HOOK_PATH = "/newsbot-hook"
FORWARDED = ("Content-Type", "X-Telegram-Bot-Api-Secret-Token")


class AlternatingProxy(LoopbackServer):
    """POSTs go to ``ports`` in turn (127.0.0.1); ``routed`` lists (replica index, update_id) in order."""

    def __init__(self, ports: list[int]) -> None:
        self.routed: list[tuple[int, int]] = []
        turns, lock, routed = itertools.cycle(range(len(ports))), threading.Lock(), self.routed
        client = httpx.Client(timeout=60)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    replica = next(turns)
                    routed.append((replica, json.loads(body).get("update_id")))
                headers = {name: self.headers[name] for name in FORWARDED if self.headers[name]}
                target = f"http://127.0.0.1:{ports[replica]}{self.path}"
                try:
                    upstream = client.post(target, content=body, headers=headers)
                    status, reply = upstream.status_code, upstream.content
                except httpx.HTTPError:
                    status, reply = 502, b"replica unreachable"
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(Handler)


@dataclass
class BotProcess:
    """A `newsbot bot` subprocess in webhook mode, listening on ``port``; its output goes to ``log``."""

    port: int
    log: Path
    process: subprocess.Popen[bytes] = field(init=False)

    def start(self, env: dict[str, str]) -> None:
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "newsbot.cli", "bot"],
                env={**env, "NEWSBOT_TELEGRAM__WEBHOOK_PORT": str(self.port)},
                cwd=ROOT,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def wait_listening(self, seconds: float = 300) -> None:
        """Returns once the webhook port takes connections (the model and store are open by then)."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    log = self.log.read_text(errors="replace")
                    raise AssertionError(f"newsbot bot did not listen:\n{log}") from None
                time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)


def webhook_env(base_env: dict[str, str], api_base: str, file_base: str) -> dict[str, str]:
    """The environment of a replica: the loopback Bot API, webhook mode with the secret."""
    return {
        **base_env,
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "NEWSBOT_TELEGRAM__BASE_URL": api_base,
        "NEWSBOT_TELEGRAM__BASE_FILE_URL": file_base,
        "NEWSBOT_TELEGRAM__MODE": "webhook",
        "NEWSBOT_TELEGRAM__START_WAIT": "10",
    }


def start_replicas(count: int, env: dict[str, str], logs: Path) -> tuple[list[BotProcess], AlternatingProxy]:
    """``count`` bots on free ports behind a proxy, the webhook URL the proxy's; ``env`` from webhook_env."""
    bots = [BotProcess(free_port(), logs / f"bot-{index}.log") for index in range(count)]
    proxy = AlternatingProxy([bot.port for bot in bots])
    for bot in bots:
        bot.start({**env, "NEWSBOT_TELEGRAM__WEBHOOK_URL": proxy.url(HOOK_PATH)})
    for bot in bots:
        bot.wait_listening()
    return bots, proxy
