"""Feeds kept fresh: a real HTTP server on 127.0.0.1 whose feeds change between refreshes, answer 304 to a
conditional GET, fail with a 500 or time out; only new entries are fetched and stored."""

import json
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsbot.corpus.store import Store
from newsbot.ingest.feeds import FAILED, NOT_MODIFIED, UPDATED, feed_json, refresh_due, seed_feeds
from tests.conftest import ROOT, assert_consistent, make_config, open_store
from tests.feed_server import FeedServer, Page, article_page, rss
from tests.test_cli import newsbot_env, run

EVERY = 900.0
START = 1_800_000_000.0


@pytest.fixture
def site() -> Iterator[FeedServer]:
    server = FeedServer()
    for name, sentence in [
        ("a", "The harbour of the town reopened on Thursday after a storm closed it for a week."),
        ("b", "Ferry crews walked out on Tuesday over pay, stranding hundreds of travellers."),
        ("c", "The council approved a new bridge over the river after two years of debate."),
    ]:
        server.pages[f"/{name}"] = Page(body=article_page(f"Story {name}", sentence))
    yield server
    server.close()


def feed_page(site: FeedServer, names: str, etag: str, **page: object) -> Page:
    items = [(f"Story {n}", site.url(f"/{n}"), f"teaser {n}") for n in names]
    headers = {"ETag": etag, "Last-Modified": "Fri, 03 May 2024 10:00:00 GMT"}
    return Page(kind="application/rss+xml", body=rss(*items), headers=headers, **page)  # type: ignore[arg-type]


def writer(site: FeedServer, tmp_path: Path, **watch: object) -> Store:
    config = make_config(
        tmp_path / "store", ingest={"allowed_hosts": [site.host], "fetch_timeout": 1}, watch=watch or {}
    )
    return open_store(config, write=True)


def site_env(site: FeedServer, tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The environment of a command on a store under ``tmp_path`` that may fetch from the test site."""
    return newsbot_env(tmp_path / "store", NEWSBOT_INGEST__ALLOWED_HOSTS=json.dumps([site.host]), **overrides)


def test_a_refresh_stores_only_new_entries_and_asks_conditionally(site: FeedServer, tmp_path: Path):
    site.pages["/feed"] = feed_page(site, "ab", '"v1"')
    with writer(site, tmp_path) as store:
        assert store.add_feed(site.url("/feed"), EVERY)
        (first,) = refresh_due(store, now=START)  # a new feed is due at once
        assert (first.status, first.articles_new, first.failures) == (UPDATED, 2, [])
        assert refresh_due(store, now=START + EVERY - 1) == []  # not due yet

        (unchanged,) = refresh_due(store, now=START + EVERY)
        assert unchanged.status == NOT_MODIFIED and unchanged.articles_new == 0
        conditional = site.requests[-1][1]
        assert conditional["if-none-match"] == '"v1"'
        assert conditional["if-modified-since"] == "Fri, 03 May 2024 10:00:00 GMT"

        site.pages["/feed"] = feed_page(site, "cab", '"v2"')
        (changed,) = refresh_due(store, now=START + 2 * EVERY)
        assert (changed.status, changed.articles_new, changed.articles_updated) == (UPDATED, 1, 0)
        assert site.paths().count("/a") == 1 and site.paths().count("/c") == 1  # known entries are not fetched
        (listed,) = [feed_json(f) for f in store.feeds()]
        assert listed["articles_added"] == 3 and listed["last_error"] is None
        assert listed["next_run"] == changed.next_run
        assert len(store.article_ids()) == 3
        assert_consistent(store)


def test_a_feed_that_is_down_keeps_its_error_waits_longer_and_the_others_go_on(site: FeedServer, tmp_path: Path):
    site.pages["/broken"] = Page(500, "text/plain", b"oops")
    site.pages["/slow"] = feed_page(site, "a", '"s"', delay=3)
    site.pages["/good"] = feed_page(site, "bc", '"g"')
    with writer(site, tmp_path, max_backoff="1h") as store:
        for path in ("/broken", "/slow", "/good"):
            store.add_feed(site.url(path), EVERY)
        results = {r.url: r for r in refresh_due(store, now=START)}
        broken, slow, good = (results[site.url(p)] for p in ("/broken", "/slow", "/good"))
        assert broken.status == FAILED and broken.error == "HTTP 500 Internal Server Error"
        assert slow.status == FAILED and slow.error == "unreachable: no response within 1.0 s"
        assert good.status == UPDATED and good.articles_new == 2
        feeds = {f.url: f for f in store.feeds()}
        assert feeds[site.url("/broken")].last_error == "HTTP 500 Internal Server Error"
        assert feeds[site.url("/broken")].next_run == START + 2 * EVERY  # twice the interval after one failure
        assert feeds[site.url("/slow")].last_error == "unreachable: no response within 1.0 s"
        assert feeds[site.url("/good")].next_run == START + EVERY and feeds[site.url("/good")].last_error is None


def test_backoff_doubles_up_to_its_cap_and_success_resets_it(site: FeedServer, tmp_path: Path):
    site.pages["/feed"] = Page(500, "text/plain", b"oops")
    with writer(site, tmp_path, max_backoff="1h") as store:
        store.add_feed(site.url("/feed"), EVERY)
        waits, now = [], START
        for _ in range(3):
            (result,) = refresh_due(store, now=now)
            assert result.status == FAILED
            (feed,) = store.feeds()
            waits.append(feed.next_run - now)
            now = feed.next_run
        assert waits == [2 * EVERY, 3600, 3600]  # 30 min, then the 1 h cap
        site.pages["/feed"] = feed_page(site, "a", '"ok"')
        (result,) = refresh_due(store, now=now)
        (feed,) = store.feeds()
        assert result.status == UPDATED and feed.failures == 0 and feed.last_error is None
        assert feed.next_run == now + EVERY


def test_an_entry_whose_page_fails_is_named_and_tried_again_later(site: FeedServer, tmp_path: Path):
    site.pages["/feed"] = feed_page(site, "ax", '"v1"')  # /x is not served
    with writer(site, tmp_path) as store:
        store.add_feed(site.url("/feed"), EVERY, source="harbour-news")
        (result,) = refresh_due(store, now=START)
        assert result.articles_new == 1 and result.articles_failed == 1 and not result.ok
        assert result.failures == [{"input": site.url("/x"), "error": "HTTP 404 Not Found"}]
        assert store.summary()["sources"] == {"harbour-news": 1}  # --source names the feed's articles

        site.pages["/x"] = Page(body=article_page("Story x", "The mayor opened the new library on Monday morning."))
        site.pages["/feed"] = feed_page(site, "ax", '"v2"')
        (retried,) = refresh_due(store, now=START + EVERY)
        assert retried.articles_new == 1 and retried.ok


def test_at_most_max_entries_are_read_per_refresh(site: FeedServer, tmp_path: Path):
    site.pages["/feed"] = feed_page(site, "abc", '"v1"')
    with writer(site, tmp_path, max_entries=2) as store:
        store.add_feed(site.url("/feed"), EVERY)
        (result,) = refresh_due(store, now=START)
    assert result.articles_new == 2 and "/c" not in site.paths()


def test_configured_feeds_are_seeded_into_an_older_store(site: FeedServer, tmp_path: Path):
    config = make_config(tmp_path / "store")
    with open_store(config, write=True):
        pass
    with sqlite3.connect(tmp_path / "store" / "registry.sqlite3") as db:  # a store from before subscriptions
        db.execute("DROP TABLE feeds")
    seeded = make_config(
        tmp_path / "store", feeds=[{"url": site.url("/feed"), "every": "30m"}, {"url": site.url("/other")}]
    )
    with open_store(seeded) as store:
        seed_feeds(store, seeded)
        store.add_feed(site.url("/other"), 60.0, "mine")
        seed_feeds(store, seeded)  # a subscription already there is left as it is
        assert [(f.url, f.every, f.source) for f in store.feeds()] == [
            (site.url("/feed"), 1800.0, ""),
            (site.url("/other"), 60.0, "mine"),
        ]


@pytest.mark.e2e
def test_feeds_and_watch_once_on_the_command_line(site: FeedServer, tmp_path: Path):
    site.pages["/feed"] = feed_page(site, "ab", '"v1"')
    env = site_env(site, tmp_path)
    added = run("feeds", "add", site.url("/feed"), "--every", "15m", "--source", "harbour", env=env)
    assert added.returncode == 0, added.stderr
    bad = run("feeds", "add", "file:///etc/passwd", env=env)
    assert bad.returncode == 2 and "not an http(s) URL: 'file:///etc/passwd'" in bad.stderr
    bad_every = run("feeds", "add", site.url("/feed"), "--every", "soon", env=env)
    assert bad_every.returncode == 2 and "not an interval: 'soon'" in bad_every.stderr

    once = run("watch", "--once", "--json", env=env)
    assert once.returncode == 0, once.stderr
    (result,) = json.loads(once.stdout)["feeds"]
    assert result["url"] == site.url("/feed") and result["status"] == "updated" and result["articles_new"] == 2
    assert json.loads(run("watch", "--once", "--json", env=env).stdout) == {"feeds": [], "alerts": []}  # none due

    (listed,) = json.loads(run("feeds", "list", "--json", env=env).stdout)
    assert listed["url"] == site.url("/feed") and listed["articles_added"] == 2 and listed["every_seconds"] == 900
    assert listed["last_success"] and listed["last_error"] is None and listed["next_run"]
    stats = json.loads(run("stats", "--json", env=env).stdout)
    assert stats["sources"] == {"harbour": 2}

    assert run("feeds", "remove", site.url("/feed"), env=env).returncode == 0
    gone = run("feeds", "remove", site.url("/feed"), env=env)
    assert gone.returncode == 1 and f"not subscribed: {site.url('/feed')}" in gone.stderr
    assert json.loads(run("feeds", "list", "--json", env=env).stdout) == []


@pytest.mark.e2e
def test_a_watched_question_alerts_once_when_a_new_article_answers_it(site: FeedServer, tmp_path: Path):
    site.pages["/feed"] = feed_page(site, "a", '"v1"')
    env = site_env(site, tmp_path, NEWSBOT_WATCH__MAX_QUESTIONS_PER_CHAT="1")
    question = "Which bridge did the council approve?"
    assert run("feeds", "add", site.url("/feed"), "--every", "1s", env=env).returncode == 0
    assert json.loads(run("watch", "--once", "--json", env=env).stdout)["feeds"][0]["articles_new"] == 1
    added = run("watch-question", "add", question, env=env)
    assert added.returncode == 0, added.stderr
    over = run("watch-question", "add", "Who reopened the harbour?", env=env)
    assert over.returncode == 1 and "already watching 1 questions (watch.max_questions_per_chat)" in over.stderr

    site.pages["/feed"] = feed_page(site, "ca", '"v2"')  # the story that answers it arrives
    answered = json.loads(run("watch", "--once", "--json", env=env).stdout)
    (alert,) = answered["alerts"]
    assert alert["question"] == question and "bridge over the river" in alert["answer"]["text"]
    with Store(make_config(tmp_path / "store")) as store:  # the model is not loaded to read articles
        (bridge,) = [a for a in store.article_ids() if "bridge" in store.article(a).text]
    assert bridge in alert["new_articles"]  # with any other article the answer now cites for the first time

    site.pages["/feed"] = feed_page(site, "bca", '"v3"')  # news, but nothing new on the question
    quiet = json.loads(run("watch", "--once", "--json", env=env).stdout)
    assert quiet["feeds"][0]["articles_new"] == 1 and quiet["alerts"] == []

    assert json.loads(run("watch-question", "list", "--json", env=env).stdout) == [{"n": 1, "question": question}]
    assert run("watch-question", "remove", "1", env=env).returncode == 0
    assert json.loads(run("watch-question", "list", "--json", env=env).stdout) == []


@pytest.mark.e2e
def test_watch_refreshes_in_the_foreground_until_sigterm(site: FeedServer, tmp_path: Path):
    site.pages["/feed"] = feed_page(site, "ab", '"v1"')
    feeds = json.dumps([{"url": site.url("/feed"), "every": "1s"}])
    env = site_env(site, tmp_path, NEWSBOT_WATCH__POLL="0.2", NEWSBOT_FEEDS=feeds)
    watcher = subprocess.Popen(
        [sys.executable, "-m", "newsbot.cli", "watch"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in watcher.stdout], daemon=True).start()
    try:
        first = lines.get(timeout=300)  # a deadline against hanging: the line comes after the first refresh
        assert first.strip() == f"{site.url('/feed')}: updated; 2 new, 0 updated, 0 failed"
        site.pages["/feed"] = feed_page(site, "cab", '"v2"')
        while (line := lines.get(timeout=300).strip()).endswith("not modified; 0 new, 0 updated, 0 failed"):
            pass
        assert line == f"{site.url('/feed')}: updated; 1 new, 0 updated, 0 failed"
    finally:
        watcher.send_signal(signal.SIGTERM)
        _, stderr = watcher.communicate(timeout=120)
    assert watcher.returncode == 0 and stderr.strip().endswith("newsbot: stopped")
