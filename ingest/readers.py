"""From what the operator names (files, folders, URLs, feeds) to a stream of Articles and failures.

Local files are named by their absolute path, which also identifies articles that carry no URL or id.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import httpx

from newsbot.ingest.fetch import Fetched, FetchError, fetch, make_client
from newsbot.ingest.fields import canonical_url, is_url
from newsbot.ingest.formats import (
    InputError,
    ReadFailure,
    ReadResult,
    decode_text,
    parse_feed,
    parse_html,
    parse_json,
    parse_jsonl,
    parse_text,
)
from newsbot.records import Article
from newsbot.settings import IngestSettings
from newsbot.text import quoted_name, strip_controls

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
FEED_SUFFIXES = {".rss", ".atom", ".xml"}
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")  # file://, ftp://, gopher:// ... refused by the guard
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | FEED_SUFFIXES | {".json", ".jsonl", ".ndjson"}


def read_inputs(inputs: Sequence[str], config: IngestSettings) -> Iterator[ReadResult]:
    """Every article named by ``inputs``, in order; anything unreadable becomes a ReadFailure naming it."""
    with make_client(config) as client:
        reader = _Reader(config, client)
        for item in inputs:
            for result in reader.read(item):
                yield inert(result)


def read_feed(
    data: bytes,
    url: str,
    config: IngestSettings,
    client: httpx.Client,
    *,
    known: Callable[[str], bool],
    limit: int,
) -> Iterator[ReadResult]:
    """A downloaded feed's entries as articles (their pages fetched as for ``read_inputs``), skipping the
    ``known`` ones before any page is fetched; at most ``limit`` entries. Raises InputError for a non-feed."""
    reader = _Reader(config, client)
    for result in parse_feed(data, origin=url, fetch_page=reader.feed_page_fetcher(), known=known, limit=limit):
        yield inert(result)


def inert(result: ReadResult) -> ReadResult:
    """What was read, with control characters stripped from the article (what is stored is what offsets count)
    and a failing input's name quoted when it holds any."""
    if isinstance(result, ReadFailure):
        return ReadFailure(quoted_name(result.input), result.error)
    text, title = strip_controls(result.text), strip_controls(result.title)
    return result if (text, title) == (result.text, result.title) else replace(result, text=text, title=title)


class _Reader:
    def __init__(self, config: IngestSettings, client: httpx.Client) -> None:
        self.config = config
        self.client = client

    def read(self, item: str) -> Iterator[ReadResult]:
        try:
            if is_url(item) or _SCHEME.match(item):
                yield from self._read_url(item)
                return
            path = Path(item).expanduser()
            if path.is_dir():
                inside = path.resolve()
                for file in _walk(path):
                    if file.is_symlink() and not file.resolve().is_relative_to(inside):
                        yield ReadFailure(str(file), f"a symlink to {file.resolve()}, outside the folder: not followed")
                    else:
                        yield from self.read(str(file))
                return
            yield from self._read_file(path)
        except InputError as exc:
            yield ReadFailure(item, str(exc))

    def _read_file(self, path: Path) -> Iterator[ReadResult]:
        if not path.exists():
            raise InputError("no such file or directory")
        suffix = path.suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            raise InputError(
                f"unsupported file type {suffix or '(none)'!r}; supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}"
            )
        size = path.stat().st_size
        if size > self.config.max_input_bytes:
            raise InputError(f"too large ({size} bytes; ingest.max_input_bytes is {self.config.max_input_bytes})")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror or exc}") from None
        origin = str(path.resolve())
        if suffix in FEED_SUFFIXES:
            yield from parse_feed(data, origin=origin, fetch_page=self.feed_page_fetcher())
            return
        text = decode_text(data)
        source = path.resolve().parent.name or "local"
        if suffix in TEXT_SUFFIXES:
            yield parse_text(text, origin=origin, key=f"file:{origin}", source=source)
        elif suffix in HTML_SUFFIXES:
            yield parse_html(text, origin=origin, url=None, source=source, key=f"file:{origin}")
        elif suffix == ".json":
            yield from parse_json(text, origin=origin, source=source)
        else:
            yield from parse_jsonl(text, origin=origin, source=source)

    def _read_url(self, url: str) -> Iterator[ReadResult]:
        fetched = self._download(url)
        if _looks_like_feed(fetched):
            yield from parse_feed(fetched.content, origin=url, fetch_page=self.feed_page_fetcher())
        elif "json" in fetched.content_type:
            text = decode_text(fetched.content, fetched.charset)
            parse = parse_jsonl if url.split("?")[0].endswith((".jsonl", ".ndjson")) else parse_json
            yield from parse(text, origin=url, source="web")
        else:
            yield self._page(fetched, url)

    def feed_page_fetcher(self) -> Callable[[str], Article] | None:
        """How feed entries' own pages are read: fetched, unless ``ingest.follow_feed_links`` is off."""
        return self._fetch_page if self.config.follow_feed_links else None

    def _fetch_page(self, url: str) -> Article:
        return self._page(self._download(url), url)

    def _page(self, fetched: Fetched, url: str) -> Article:
        html = decode_text(fetched.content, fetched.charset)
        return parse_html(html, origin=url, url=canonical_url(fetched.url), source="web")

    def _download(self, url: str) -> Fetched:
        try:
            return fetch(self.client, url, self.config)
        except FetchError as exc:
            raise InputError(str(exc)) from None


def _looks_like_feed(fetched: Fetched) -> bool:
    if any(kind in fetched.content_type for kind in ("rss", "atom")):
        return True
    head = fetched.content[:1024].lstrip().lower()
    return (head.startswith(b"<?xml") and (b"<rss" in head or b"<feed" in head)) or head.startswith((b"<rss", b"<feed"))


def _walk(folder: Path) -> Iterator[Path]:
    """Supported files under ``folder``, recursively, in a stable order, skipping hidden entries."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and Path(name).suffix.lower() in SUPPORTED_SUFFIXES:
                yield Path(root) / name
