"""The same store with its vectors on a real `chroma run` server (scale-out by configuration alone)."""

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from corpus.store import Store
from corpus.vectors import VectorStoreError
from ingest.pipeline import ingest
from tests.conftest import SAMPLES, assert_consistent, make_config


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[int]:
    binary = shutil.which("chroma", path=str(Path(sys.executable).parent))
    assert binary, "the chromadb package installs the `chroma` command beside the interpreter"
    port = free_port()
    server = subprocess.Popen(
        [binary, "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert server.poll() is None and time.monotonic() < deadline, "chroma run did not come up"
        time.sleep(0.2)
    yield port
    server.terminate()
    server.wait(timeout=30)


def test_ingest_update_and_delete_against_a_chroma_server(chroma_server: int, tmp_path: Path):
    config = make_config(
        tmp_path / "store", store={"chroma": {"mode": "http", "host": "127.0.0.1", "port": chroma_server}}
    )
    with Store(config, write=True) as store:
        first = ingest([str(SAMPLES)], store)
        assert first.articles_new == 7 and store.vectors.count() == first.chunks_added
        assert store.vectors.location == f"http://127.0.0.1:{chroma_server}"
        assert not (tmp_path / "store" / "chroma").exists()
        again = ingest([str(SAMPLES)], store)
        assert (again.articles_unchanged, again.chunks_added) == (7, 0)
        store.delete(store.registry.article_ids(source="libya"))
        assert_consistent(store)


def test_an_unreachable_server_is_a_clear_error(tmp_path: Path):
    port = free_port()
    config = make_config(tmp_path / "store", store={"chroma": {"mode": "http", "host": "127.0.0.1", "port": port}})
    with pytest.raises(VectorStoreError, match=f"Chroma \\(http\\) at http://127.0.0.1:{port}"):
        Store(config)
