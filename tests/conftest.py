"""Shared fixtures: real stores in temporary folders, the bundled samples, the shared data, a loopback web server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from newsbot.corpus.store import Store
from newsbot.settings import Settings
from tests.fake_encoder import HashingEncoder
from tests.fake_telegram import FakeTelegram

if TYPE_CHECKING:
    from tests.newsbot_serve import Served
    from tests.postgres_server import PostgresServer

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "examples" / "articles"
SHARED_DATA = ROOT.parent / "shared" / "data"


TELEGRAM_TOKEN = "123456:TEST-TOKEN"


def make_config(store_path: Path, **sections: dict | list) -> Settings:
    """The default settings with the store under ``store_path`` and any section keys replaced."""
    data = Settings().model_dump()
    data["store"]["path"] = store_path
    for section, values in sections.items():
        if isinstance(values, dict):
            data[section].update(values)
        else:  # a list (feeds)
            data[section] = values
    return Settings.model_validate(data)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    """The loopback Bot API server (tests/fake_telegram.py), for the token TELEGRAM_TOKEN."""
    fake = FakeTelegram(TELEGRAM_TOKEN)
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
def config(tmp_path: Path) -> Settings:
    return make_config(tmp_path / "store")


def open_store(config: Settings, *, write: bool = False) -> Store:
    """A real store (SQLite, embedded Chroma) whose vectors come from the small test encoder, not the model."""
    return Store(config, write=write, encoder=HashingEncoder())


@pytest.fixture
def store(config: Settings) -> Iterator[Store]:
    with open_store(config, write=True) as opened:
        yield opened


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (it sits beside the project in CI, not in a clone)")
    return SHARED_DATA


Reply = tuple[int, str, bytes | Iterable[bytes]]
Route = Reply | Callable[[bytes], Reply]


class LoopbackServer:
    """A real HTTP server on 127.0.0.1 (a port the OS picks) serving ``handler`` from a daemon thread: the
    start and stop that the tests' scripted servers share."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.base = f"http://{self.host}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return self.base + path

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class WebServer(LoopbackServer):
    """A real HTTP server on 127.0.0.1 serving scripted routes: ``routes[path]`` is ``(status, type, body)``
    or a function of the request body returning one (it may sleep, to play a slow server). A body that is not
    bytes is an iterable of pieces, streamed (HTTP/1.0: the response ends when the connection closes)."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._reply(b"")

            def do_POST(self) -> None:
                self._reply(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def _reply(self, request: bytes) -> None:
                route = routes.get(self.path.split("?")[0])
                if route is None:
                    status, kind, body = 404, "text/plain", b"not found"
                else:
                    status, kind, body = route(request) if callable(route) else route
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", kind)
                    if isinstance(body, bytes):
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
                        return
                    self.end_headers()  # a stream: its pieces as they come, the end when the connection closes
                    for piece in body:
                        self.wfile.write(piece)
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first (timeout tests)

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(Handler)


@pytest.fixture
def web() -> Iterator[WebServer]:
    server = WebServer()
    yield server
    server.close()


def assert_consistent(store: Store) -> None:
    """Registry, keyword index and Chroma agree: no orphan vectors, no missing ones, exact offsets."""
    assert store.problems() == []
    for article_id in store.article_ids():
        article = store.article(article_id)
        for chunk in store.chunks_of(article_id):
            assert chunk.text == article.text[chunk.start : chunk.end]


@dataclass
class ChromaServer:
    """A `chroma run` on 127.0.0.1; ``stop`` plays an outage, ``start`` brings it back on the same port and data."""

    port: int
    data: Path
    process: subprocess.Popen | None = None

    def start(self) -> None:
        binary = shutil.which("chroma", path=str(Path(sys.executable).parent))
        assert binary, "the chromadb package installs the `chroma` command beside the interpreter"
        self.process = subprocess.Popen(
            [binary, "run", "--path", str(self.data), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        heartbeat = f"http://127.0.0.1:{self.port}/api/v2/heartbeat"
        assert answers(heartbeat, self.process, seconds=60), "chroma run did not come up"

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None


def answers(url: str, process: subprocess.Popen, seconds: float) -> bool:
    """Waits until ``url`` answers 200 (True), or ``process`` exits or ``seconds`` pass (False)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[ChromaServer]:
    """A real `chroma run` server on 127.0.0.1 (tests may stop it early to play an outage)."""
    server = ChromaServer(free_port(), tmp_path / "server-data")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the session (tests take a fresh database each: ``postgres_dsn``)."""
    from tests.postgres_server import PostgresServer

    server = PostgresServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer) -> str:
    """The connection string of a new, empty database on the session's PostgreSQL server."""
    return postgres_server.database()


@pytest.fixture(scope="session")
def web_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.newsbot_serve import build_web_store

    return build_web_store(tmp_path_factory.mktemp("web") / "store")


@pytest.fixture(scope="session")
def served(web_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`newsbot serve` over ``web_store`` with signed links and admin writes."""
    from tests.newsbot_serve import ADMIN_TOKEN, SECRET, start_server

    log = tmp_path_factory.mktemp("serve") / "serve.log"
    server = start_server(
        web_store,
        log,
        NEWSBOT_WEB_SECRET=SECRET,
        NEWSBOT_WEB_ADMIN_TOKEN=ADMIN_TOKEN,
        NEWSBOT_WEB__RATE_BURST="1000",
        NEWSBOT_INGEST__ALLOW_PRIVATE_HOSTS="true",  # admin URL ingest reads the tests' server on 127.0.0.1
    )
    yield server
    server.stop()
