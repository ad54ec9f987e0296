"""The same store with its vectors on a real `chroma run` server (scale-out by configuration alone)."""

from pathlib import Path

import pytest

from newsbot.corpus.errors import VectorStoreError
from newsbot.corpus.store import Store
from newsbot.ingest.pipeline import ingest
from tests.conftest import SAMPLES, ChromaServer, assert_consistent, free_port, make_config

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
