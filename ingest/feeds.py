"""Feed subscriptions kept fresh: each due feed is fetched politely (conditional GET, its own interval, longer
waits after failures, a cap on entries read) and only entries not stored yet have their pages fetched.

A refresh runs on a writer store (one writer at a time: `newsbot watch` and the bot take turns through the
store's write lock). A feed that fails keeps its error and waits; the others go on. Nothing here is lost by a
crash: a feed whose refresh did not finish is still due, and its stored entries are skipped.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import httpx

from newsbot.corpus.registry import Feed
from newsbot.corpus.store import Store
from newsbot.ingest.fetch import FetchError, fetch, make_client
from newsbot.ingest.formats import InputError, ReadResult
from newsbot.ingest.pipeline import ingest_results
from newsbot.ingest.readers import read_feed
from newsbot.records import Article
from newsbot.settings import Settings, parse_interval

UPDATED, NOT_MODIFIED, FAILED = "updated", "not modified", "failed"
MAX_DOUBLINGS = 20


@dataclass
class FeedRefresh:
    """What one refresh of one feed did."""

    url: str
    status: str
    articles_new: int = 0
    articles_updated: int = 0
    articles_failed: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None
    next_run: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def ok(self) -> bool:
        return self.status != FAILED and not self.articles_failed


def seed_feeds(store: Store, config: Settings) -> None:
    """Subscribe to the configured ``feeds:`` that are not subscribed yet."""
    default = parse_interval(config.watch.every)
    store.seed_feeds(
        (seed.url, parse_interval(seed.every) if seed.every else default, seed.source) for seed in config.feeds
    )


def due_feeds(store: Store, now: float | None = None) -> list[Feed]:
    now = time.time() if now is None else now
    return [feed for feed in store.feeds() if feed.next_run <= now]


def refresh_due(store: Store, now: float | None = None) -> list[FeedRefresh]:
    """Refresh every feed of ``store`` (a writer) that is due, one after another."""
    now = time.time() if now is None else now
    with make_client(store.config.ingest) as client:
        return [refresh_feed(store, feed, client, now) for feed in due_feeds(store, now)]


def refresh_feed(store: Store, feed: Feed, client: httpx.Client, now: float) -> FeedRefresh:
    """Fetch one feed (conditionally), store its new entries and record the outcome in the registry."""
    config = store.config
    headers = {"If-None-Match": feed.etag} if feed.etag else {}
    if feed.last_modified:
        headers["If-Modified-Since"] = feed.last_modified
    try:
        fetched = fetch(client, feed.url, config.ingest, headers)
        if fetched.status == 304:
            done = replace(feed, last_success=now, last_error=None, failures=0, next_run=now + feed.every)
            store.save_feed(done)
            return FeedRefresh(feed.url, NOT_MODIFIED, next_run=iso_time(done.next_run))
        entries = read_feed(
            fetched.content,
            feed.url,
            config.ingest,
            client,
            known=lambda key: store.resolve(key) is not None,
            limit=config.watch.max_entries,
        )
        report = ingest_results(_with_source(entries, feed.source), store)
    except (FetchError, InputError) as exc:
        failures = feed.failures + 1
        wait = min(feed.every * 2 ** min(failures, MAX_DOUBLINGS), parse_interval(config.watch.max_backoff))
        failed = replace(feed, last_error=str(exc), failures=failures, next_run=now + max(wait, feed.every))
        store.save_feed(failed)
        return FeedRefresh(feed.url, FAILED, error=str(exc), next_run=iso_time(failed.next_run))
    added = report.articles_new + report.articles_updated
    done = replace(
        feed,
        etag=fetched.etag,
        last_modified=fetched.last_modified,
        last_success=now,
        last_error=None,
        failures=0,
        articles_added=feed.articles_added + added,
        next_run=now + feed.every,
    )
    store.save_feed(done)
    return FeedRefresh(
        feed.url,
        UPDATED,
        articles_new=report.articles_new,
        articles_updated=report.articles_updated,
        articles_failed=report.articles_failed,
        failures=report.failures,
        next_run=iso_time(done.next_run),
    )


def feed_json(feed: Feed) -> dict[str, Any]:
    """A subscription as `feeds list --json` prints it."""
    return {
        "url": feed.url,
        "source": feed.source or None,
        "every_seconds": feed.every,
        "last_success": iso_time(feed.last_success),
        "last_error": feed.last_error,
        "failures": feed.failures,
        "articles_added": feed.articles_added,
        "next_run": iso_time(feed.next_run),
    }


def iso_time(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def _with_source(results: Iterable[ReadResult], source: str) -> Iterator[ReadResult]:
    for result in results:
        yield replace(result, source=source) if source and isinstance(result, Article) else result
