"""A Chroma server behind token authentication: the token comes from CHROMA_AUTH_TOKEN (environment only), is
sent the way `store.chroma.auth_header` says, never appears in any output, and a refusal is one clear line.

`chroma run` (chromadb 1.x) enforces no authentication itself, so the server here is a real `chroma run`
behind a token-checking reverse proxy on 127.0.0.1, the way such servers are exposed in practice."""

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from tests.conftest import SAMPLES, ChromaServer, LoopbackServer
from tests.test_cli import newsbot_env, run

pytestmark = pytest.mark.e2e

TOKEN = "chroma-s3cret-token-value"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class TokenGate(LoopbackServer):
    """Forwards every request to ``upstream`` when it carries the expected header, else answers 401."""

    def __init__(self, upstream: str, header: str, expected: str) -> None:
        self.header = header
        self.refused = 0
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                if self.headers.get(header) != expected:
                    gate.refused += 1
                    self._send(401, {"Content-Type": "application/json"}, b'{"error": "Unauthorized"}')
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                reply = httpx.request(self.command, upstream + self.path, headers=headers, content=body, timeout=60)
                kept = {k: v for k, v in reply.headers.items() if k.lower() not in HOP_BY_HOP | {"content-encoding"}}
                self._send(reply.status_code, kept, reply.content)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

            def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(Handler)


@pytest.fixture(params=["Authorization", "X-Chroma-Token"])
def gate(request: pytest.FixtureRequest, chroma_server: ChromaServer) -> Iterator[TokenGate]:
    header = request.param
    expected = f"Bearer {TOKEN}" if header == "Authorization" else TOKEN
    proxy = TokenGate(f"http://127.0.0.1:{chroma_server.port}", header, expected)
    yield proxy
    proxy.close()


def gated_env(tmp_path: Path, gate: TokenGate, **overrides: str) -> dict[str, str]:
    env = newsbot_env(
        tmp_path / "store",
        NEWSBOT_STORE__CHROMA__MODE="http",
        NEWSBOT_STORE__CHROMA__HOST="127.0.0.1",
        NEWSBOT_STORE__CHROMA__PORT=str(gate.port),
        NEWSBOT_STORE__CHROMA__AUTH_HEADER=gate.header,
    )
    env.pop("CHROMA_AUTH_TOKEN", None)  # only what the test gives
    env.update(overrides)
    return env


def test_with_the_token_the_store_works_and_the_token_is_never_shown(gate: TokenGate, tmp_path: Path):
    env = gated_env(tmp_path, gate, CHROMA_AUTH_TOKEN=TOKEN)
    outputs = [run("ingest", str(SAMPLES), "--json", env=env), run("ask", "Who controls Derna?", env=env)]
    outputs += [run("stats", env=env), run("config", env=env)]
    for done in outputs:
        assert done.returncode == 0, done.stderr
        assert TOKEN not in done.stdout + done.stderr
    assert "Majlis" in outputs[1].stdout
    assert "CHROMA_AUTH_TOKEN" in outputs[3].stdout and "set" in outputs[3].stdout
    assert gate.refused == 0


@pytest.mark.parametrize("token", [None, "wrong-token-value"])
def test_without_the_right_token_it_is_one_line_naming_the_variable(gate: TokenGate, tmp_path: Path, token: str | None):
    env = gated_env(tmp_path, gate, **({"CHROMA_AUTH_TOKEN": token} if token else {}))
    done = run("ingest", str(SAMPLES), env=env)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert f"http://127.0.0.1:{gate.port}" in done.stderr and "HTTP 401" in done.stderr
    assert ("CHROMA_AUTH_TOKEN was refused" if token else "CHROMA_AUTH_TOKEN is not set") in done.stderr
    assert token is None or token not in done.stderr
    assert gate.refused >= 1
