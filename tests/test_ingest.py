"""The write path and the Store API against a real embedded Chroma, with the small test encoder."""

import json
import os
import threading
from pathlib import Path

import pytest

from newsbot.corpus.store import ModelMismatchError, Store, StoreError
from newsbot.ingest.pipeline import delete, ingest
from newsbot.settings import Settings
from tests.conftest import SAMPLES, assert_consistent, make_config, open_store
from tests.fake_encoder import HashingEncoder
from tests.test_cli import newsbot_env, run


def write(path: Path, text: str | bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def snapshot(store: Store) -> tuple[set[str], set[str], dict[str, str]]:
    articles = {a: store.article(a).text_hash for a in store.article_ids()}
    return store._registry.chunk_ids(), store._vectors.ids(), articles


def test_samples_ingest_once_and_re_ingest_adds_nothing(store: Store):
    first = ingest([str(SAMPLES)], store)
    assert (first.articles_new, first.articles_failed, first.failures) == (9, 0, [])
    assert first.chunks_added == store.stats()["vectors"] > 7
    before = snapshot(store)
    again = ingest([str(SAMPLES)], store)
    assert (again.articles_new, again.articles_updated, again.articles_unchanged) == (0, 0, 9)
    assert (again.chunks_added, again.chunks_deleted) == (0, 0)
    assert snapshot(store) == before
    assert_consistent(store)


def test_changed_text_replaces_the_old_chunks_and_keywords(store: Store, tmp_path: Path):
    path = write(tmp_path / "in" / "harbour.txt", "The harbour reopened on Thursday. Fishing boats returned.")
    ingest([path], store)
    (article_id,) = store.article_ids()
    old_chunks = store._registry.chunk_ids()
    assert store.keyword_search("fishing", 5)

    write(tmp_path / "in" / "harbour.txt", "The harbour stayed closed on Friday. Ferries were cancelled.")
    report = ingest([path], store)
    assert (report.articles_updated, report.articles_new, report.chunks_deleted) == (1, 0, len(old_chunks))
    assert store.article_ids() == [article_id]
    assert not old_chunks & store._registry.chunk_ids()
    assert not old_chunks & store._vectors.ids()
    assert store.keyword_search("fishing", 5) == []
    assert store.keyword_search("ferries", 5)
    assert_consistent(store)


def test_the_same_story_from_two_urls_is_stored_once(store: Store, tmp_path: Path):
    text = "Rescue teams reached the village on Monday.\nThey found the bridge intact."
    rewrapped = "Rescue teams reached the village on Monday. They found\nthe bridge intact."
    path = write(
        tmp_path / "wire.jsonl",
        "\n".join(
            json.dumps({"url": url, "title": "Rescue", "text": body})
            for url, body in [("https://a.example/story", text), ("https://b.example/copy", rewrapped)]
        ),
    )
    report = ingest([path], store)
    assert (report.articles_new, report.articles_duplicate) == (1, 1)
    assert len(store.article_ids()) == 1
    again = ingest([path], store)
    assert (again.articles_unchanged, again.articles_new, again.articles_duplicate) == (2, 0, 0)
    assert_consistent(store)


def test_delete_by_id_and_by_source_removes_everything(store: Store):
    ingest([str(SAMPLES)], store)
    total = store.stats()["vectors"]
    explainer = next(a for a in store.article_ids() if store.article(a).title.startswith("Explainer"))
    removed_chunks = len(store.chunks_of(explainer))
    assert delete(store, article_id=explainer) == (1, removed_chunks)
    assert store.article(explainer) is None
    assert store.stats()["vectors"] == total - removed_chunks
    hits = store.keyword_search("Libya Dawn", 50)
    assert hits and not any(chunk_id.startswith(explainer) for chunk_id, _ in hits)
    assert delete(store, article_id="no-such-article") == (0, 0)

    articles, _ = delete(store, source="newsbot-samples")
    assert articles == 5
    assert store.article_ids(source="newsbot-samples") == []
    assert len(store.article_ids()) == 3
    assert_consistent(store)


def test_a_store_refuses_another_embedding_model(store: Store, tmp_path: Path):
    ingest([str(SAMPLES / "libya")], store)
    before = snapshot(store)
    store.close()
    other = make_config(store.path, embedding={"model": str(tmp_path / "another-model")})
    with pytest.raises(ModelMismatchError, match="tests/hashing-encoder"):
        Store(other, write=True)
    with open_store(make_config(store.path)) as reopened:
        assert snapshot(reopened) == before


def test_a_second_writer_is_refused_while_one_holds_the_store(store: Store, config: Settings):
    with pytest.raises(StoreError, match="being written by another process"):
        open_store(config, write=True)
    with open_store(config) as reader:
        assert reader.stats()["articles"] == 0


def test_a_second_writer_may_wait_for_the_first_to_finish(config: Settings):
    first = open_store(config, write=True)
    heard: list[str] = []
    releaser = threading.Timer(0.5, first.close)
    releaser.start()
    with Store(config, write=True, encoder=HashingEncoder(), wait=60, on_wait=heard.append) as second:
        assert second.stats()["articles"] == 0
    releaser.join()
    assert len(heard) == 1 and f"pid {os.getpid()}" in heard[0] and "waiting up to 60 s" in heard[0]
    with open_store(config, write=True), pytest.raises(StoreError, match=r"gave up after waiting 0\.3 s"):
        Store(config, write=True, encoder=HashingEncoder(), wait=0.3)


def test_ingest_waits_for_the_lock_on_the_command_line(config: Settings, tmp_path: Path):
    env = newsbot_env(Path(config.store.path))
    with open_store(config, write=True):
        done = run("ingest", str(SAMPLES), "--wait", "0.5", env=env)
    assert done.returncode == 2
    assert "waiting up to 0.5 s" in done.stderr and "gave up after waiting 0.5 s" in done.stderr


def test_bad_inputs_are_named_and_the_rest_of_the_batch_still_lands(tmp_path: Path):
    config = make_config(tmp_path / "store", ingest={"max_input_bytes": 4000})
    good = tmp_path / "in"
    kept = write(good / "kept.txt", "The council approved the new budget on Tuesday. Taxes stay the same.")
    with open_store(config, write=True) as store:
        ingest([kept], store)
        before = snapshot(store)
        bad = {
            "empty.txt": write(good / "empty.txt", ""),
            "blank.md": write(good / "blank.md", "  \n\n  "),
            "binary.txt": write(good / "binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR"),
            "latin1.txt": write(good / "latin1.txt", "Caf\xe9 owners protest.".encode("latin-1")),
            "truncated.json": write(good / "truncated.json", '{"title": "Cut", "text": "The story was cut'),
            "huge.txt": write(good / "huge.txt", "Long sentence here. " * 400),
            "nested.json": write(good / "nested.json", "[" * 1500 + "]" * 1500),
        }
        lines = [
            json.dumps({"url": "https://x.example/1", "text": "First good line of the feed."}),
            '{"url": "https://x.example/2", "text": "truncated',
            json.dumps({"url": "https://x.example/3", "title": "no text"}),
            json.dumps({"url": "https://x.example/4", "text": "Second good line of the feed."}),
        ]
        mixed = write(good / "mixed.jsonl", "\n".join(lines))
        fresh = write(good / "fresh.txt", "A new bakery opened on Main Street. Queues formed early.")
        write(Path(kept), "")  # the stored article's file is now empty: it must stay stored

        report = ingest([*bad.values(), mixed, fresh, kept], store)

        errors = {Path(f["input"]).name: f["error"] for f in report.failures}
        assert errors["empty.txt"] == errors["blank.md"] == errors["kept.txt"] == "empty input"
        assert errors["binary.txt"].startswith("binary content")
        assert errors["latin1.txt"].startswith("not valid utf-8 text (byte 0xe9 at offset 3)")
        assert errors["truncated.json"].startswith("malformed JSON")
        assert errors["huge.txt"].startswith("too large (8000 bytes")
        assert errors["nested.json"] == "JSON nested too deeply to be an article"
        assert errors["mixed.jsonl:2"].startswith("malformed JSON")
        assert errors["mixed.jsonl:3"].startswith("no article text")
        assert report.articles_failed == len(report.failures) == 10
        assert report.articles_new == 3 and not report.ok
        chunks, vectors, articles = snapshot(store)
        assert before[0] <= chunks and before[1] <= vectors
        assert before[2].items() <= articles.items()
        assert_consistent(store)


def test_a_later_version_in_the_same_run_wins(store: Store, tmp_path: Path):
    lines = [
        json.dumps({"url": "https://x.example/a", "text": text})
        for text in ("First version of the story. It says one thing.", "Second version of the story. It says another.")
    ]
    path = write(tmp_path / "twice.jsonl", "\n".join(lines))
    report = ingest([path], store)
    assert (report.articles_new, report.articles_updated) == (1, 1)
    (article_id,) = store.article_ids()
    assert store.article(article_id).text.startswith("Second version")
    assert_consistent(store)


def test_a_reader_writes_through_writing_and_sees_what_it_wrote(config: Settings):
    with open_store(config) as reader:
        with reader.writing() as writer:
            report = ingest([str(SAMPLES / "libya")], writer)
            with pytest.raises(StoreError, match="being written by another process"):
                open_store(config, write=True)
        assert report.articles_new == reader.summary()["articles"] == 2
        assert reader.keyword_search("Derna", 5)
        assert reader.dense_search("Who controls Derna?", 3)
    with open_store(config, write=True) as again:  # the lock was released
        assert again.summary()["articles"] == 2


def test_problems_names_vectors_lost_or_left_behind(store: Store):
    ingest([str(SAMPLES / "libya")], store)
    assert store.problems() == []
    lost = sorted(store._registry.chunk_ids())[:2]  # white-box: play a vector store that lost two vectors
    store._vectors.delete(lost)
    assert store.problems() == ["2 chunks without a vector"]
    assert store.repair().vectors_restored == 2
    assert store.problems() == []
