"""The same store with its vectors on a real `chroma run` server (scale-out by configuration alone)."""

from pathlib import Path

import pytest

from newsbot.corpus.errors import VectorStoreError
from newsbot.corpus.store import Store
from newsbot.ingest.pipeline import ingest
from tests.conftest import SAMPLES, ChromaServer, WebServer, assert_consistent, free_port, make_config
from tests.test_cli import newsbot_env, run

pytestmark = pytest.mark.e2e


def test_ingest_update_and_delete_against_a_chroma_server(chroma_server: ChromaServer, tmp_path: Path):
    config = make_config(
        tmp_path / "store", store={"chroma": {"mode": "http", "host": "127.0.0.1", "port": chroma_server.port}}
    )
    with Store(config, write=True) as store:
        first = ingest([str(SAMPLES)], store)
        assert first.articles_new == 9 and store.stats()["vectors"] == first.chunks_added
        assert store.stats()["vectors_at"] == f"http://127.0.0.1:{chroma_server.port}"
        assert not (tmp_path / "store" / "chroma").exists()
        again = ingest([str(SAMPLES)], store)
        assert (again.articles_unchanged, again.chunks_added) == (9, 0)
        store.delete(store.article_ids(source="libya"))
        assert_consistent(store)


def test_an_unreachable_server_is_a_clear_error(tmp_path: Path):
    port = free_port()
    config = make_config(tmp_path / "store", store={"chroma": {"mode": "http", "host": "127.0.0.1", "port": port}})
    with pytest.raises(VectorStoreError, match=f"Chroma \\(http\\) at http://127.0.0.1:{port}"):
        Store(config)


def test_a_server_that_is_not_chroma_is_named_as_such(web: WebServer, tmp_path: Path):
    port = int(web.base.rsplit(":", 1)[1])
    config = make_config(tmp_path / "store", store={"chroma": {"mode": "http", "host": "127.0.0.1", "port": port}})
    with pytest.raises(VectorStoreError) as raised:
        Store(config)
    assert str(raised.value).startswith(f"Chroma (http) at http://127.0.0.1:{port}: the server answered, but not")
    assert "HTTP 404 on /api/v2/heartbeat" in str(raised.value)


def test_a_server_that_dies_mid_ingest_is_one_clear_error_and_the_next_run_repairs(
    chroma_server: ChromaServer, tmp_path: Path
):
    http = {"chroma": {"mode": "http", "host": "127.0.0.1", "port": chroma_server.port}}
    config = make_config(tmp_path / "store", store=http)
    with Store(config, write=True) as store:
        ingest([str(SAMPLES / "libya")], store)
        chroma_server.stop()
        with pytest.raises(VectorStoreError, match=r"could not \w+ vectors: cannot connect"):
            ingest([str(SAMPLES / "world")], store)
    env = newsbot_env(
        tmp_path / "store", **{f"NEWSBOT_STORE__CHROMA__{k.upper()}": str(v) for k, v in http["chroma"].items()}
    )
    done = run("ingest", str(SAMPLES / "world"), "--quiet", env=env)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0 and f"http://127.0.0.1:{chroma_server.port}" in done.stderr
    chroma_server.start()
    with Store(config, write=True) as store:  # the journal's repair on opening, then the rest
        again = ingest([str(SAMPLES)], store)
        assert again.articles_failed == 0 and len(store.article_ids()) == 9
        assert_consistent(store)
