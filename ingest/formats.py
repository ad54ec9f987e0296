"""Parsers from raw content to Articles: plain text / Markdown, HTML, JSON / JSONL, RSS / Atom.

Each parser gets already-decoded content and the name of its input, and either returns Articles or raises
InputError with a reason. Parsers of many-article formats yield a ReadFailure for a bad item and go on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import feedparser
import lxml.html
import trafilatura
import yaml

from newsbot.ingest.fields import (
    canonical_url,
    find_dateline,
    host_of,
    is_url,
    normalize_date,
    split_date_marker,
    title_from_text,
)
from newsbot.records import Article

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*\n", re.DOTALL)
_MD_HEADING = re.compile(r"^#{1,2}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_TEXT_FIELDS = ("text", "content", "body")
_BLOCK_TAGS = ("p", "div", "li", "br", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "tr")
TOO_DEEP = "JSON nested too deeply to be an article"
FULL_TEXT_CHARS = 400  # a feed entry whose own content is this long is taken as the full article
_DATE_FIELDS = ("published", "publish_date", "date", "published_at", "pubDate")


class InputError(Exception):
    """An input cannot be read; the message says why (the caller adds the input's name)."""


@dataclass(frozen=True)
class ReadFailure:
    input: str
    error: str


ReadResult = Article | ReadFailure


_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def decode_text(data: bytes, charset: str | None = None) -> str:
    """Text of a file or download; refuses empty, binary and undecodable content."""
    if not data.strip():
        raise InputError("empty input")
    bom = next((name for mark, name in _BOMS if data.startswith(mark)), None)
    if bom:  # UTF-16 and UTF-32 text holds NUL bytes: its byte-order mark says it is text
        charset = bom
    elif b"\x00" in data[:8192]:
        raise InputError("binary content (contains NUL bytes), not a text article")
    encoding = charset or "utf-8"
    try:
        text = data.decode("utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding)
    except UnicodeDecodeError as exc:
        raise InputError(f"not valid {encoding} text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
    except LookupError:
        raise InputError(f"unknown character encoding {charset!r}") from None
    if not text.strip():
        raise InputError("empty input")
    return text


def parse_text(text: str, *, origin: str, key: str, source: str) -> Article:
    """A .txt/.md article: optional YAML front matter (title, source, url, published, id), an optional
    ``date YYYY-MM-DD`` first line, an optional wire dateline, and a Markdown heading as title."""
    front: dict[str, Any] = {}
    match = _FRONT_MATTER.match(text)
    if match:
        try:
            loaded = yaml.safe_load(match.group(1))
        except yaml.YAMLError as exc:
            raise InputError(f"malformed front matter ({exc.__class__.__name__})") from None
        front = loaded if isinstance(loaded, dict) else {}
        text = text[match.end() :]
    published, text = split_date_marker(text)
    text = text.strip()
    if not text:
        raise InputError("no article text")
    heading = _MD_HEADING.match(text)
    record = {"text": text, "title": heading.group(1) if heading else None, **front}
    if published and not _first(record, _DATE_FIELDS):
        record["published"] = published
    return article_from_record(record, origin=origin, key=key, source=source)


def parse_html(html: str, *, origin: str, url: str | None, source: str, key: str | None = None) -> Article:
    """Main text of a web page (boilerplate removed by trafilatura), title and date from its metadata."""
    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False, include_tables=False)
    lines = (getattr(doc, "text", None) or "").splitlines() if doc is not None else []
    text = "\n\n".join(line.strip() for line in lines if line.strip())  # trafilatura puts one block a line
    if not text:
        raise InputError("no article text found in the HTML")
    page_url = url or getattr(doc, "url", None)
    record = {"text": text, "title": doc.title, "published": doc.date, "url": page_url}
    return article_from_record(record, origin=origin, key=key, source=host_of(page_url) or source)


def parse_json(text: str, *, origin: str, source: str) -> Iterator[ReadResult]:
    """A .json file: one article object, a list of them, or a RealTimeQA search-result object."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise InputError(TOO_DEEP) from None
    items = data if isinstance(data, list) else [data]
    for index, item in enumerate(items):
        name = f"{origin}[{index}]" if isinstance(data, list) else origin
        yield from _records(item, name=name, source=source)


def parse_jsonl(text: str, *, origin: str, source: str) -> Iterator[ReadResult]:
    """A .jsonl file: one object a line (article or RealTimeQA search results); a bad line fails alone."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name = f"{origin}:{number}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            yield ReadFailure(name, f"malformed JSON at column {exc.colno}: {exc.msg}")
            continue
        except RecursionError:
            yield ReadFailure(name, TOO_DEEP)
            continue
        yield from _records(item, name=name, source=source)


def parse_feed(
    data: bytes,
    *,
    origin: str,
    fetch_page: Callable[[str], Article] | None,
    known: Callable[[str], bool] | None = None,
    limit: int | None = None,
) -> Iterator[ReadResult]:
    """RSS/Atom entries. With ``fetch_page`` each entry's link is downloaded and its page extracted (feeds
    usually carry only a summary; an entry carrying the full text is taken as it is). Entries whose identity
    key is ``known`` are skipped before anything is fetched; at most ``limit`` entries are read, feed order."""
    feed = feedparser.parse(data)
    if not feed.entries:
        reason = f": {feed.bozo_exception}" if feed.get("bozo") else ""
        raise InputError(f"not an RSS/Atom feed with entries{reason}")
    for index, entry in enumerate(feed.entries[:limit]):
        if known is not None and known(feed_entry_key(entry, origin)):
            continue
        link = entry.get("link")
        name = link or f"{origin}#entry{index}"
        try:
            yield _feed_entry(entry, origin=origin, fetch_page=fetch_page)
        except InputError as exc:
            yield ReadFailure(name, str(exc))


def feed_entry_key(entry: Mapping[str, Any], origin: str) -> str:
    """The identity key an entry's article is stored under (its canonical link, else its id)."""
    link = entry.get("link")
    if isinstance(link, str) and is_url(link):
        return canonical_url(link)
    return link or entry.get("id") or f"{origin}#{entry.get('title')}"


def article_from_record(record: Mapping[str, Any], *, origin: str, source: str, key: str | None = None) -> Article:
    """An Article from a mapping with text/title/url/published/source/id fields (missing ones derived)."""
    text = _first(record, _TEXT_FIELDS)
    if not isinstance(text, str) or not text.strip():
        raise InputError("no article text (expected a non-empty 'text' field)")
    text = text.strip()
    url = _first(record, ("url", "link"))
    url = canonical_url(url) if isinstance(url, str) and is_url(url) else None
    explicit_id = record.get("id")
    identity = f"id:{explicit_id}" if explicit_id not in (None, "") else (url or key)
    if identity is None:
        raise InputError("an article needs an 'id', a 'url' or a file to identify it")
    title = record.get("title")
    return Article(
        key=identity,
        text=text,
        title=str(title).strip() if title and str(title).strip() else title_from_text(text),
        source=str(record.get("source") or host_of(url) or source),
        published=normalize_date(_first(record, _DATE_FIELDS)),
        url=url,
        dateline=find_dateline(text),
        origin=origin,
    )


def _records(item: object, *, name: str, source: str) -> Iterator[ReadResult]:
    if isinstance(item, dict) and isinstance(item.get("search_result"), list):
        for index, result in enumerate(item["search_result"]):
            yield _record(result, name=f"{name}:search_result[{index}]", source=source)
    else:
        yield _record(item, name=name, source=source)


def _record(item: object, *, name: str, source: str) -> ReadResult:
    if not isinstance(item, dict):
        return ReadFailure(name, f"expected a JSON object, got {type(item).__name__}")
    try:
        return article_from_record(item, origin=name, source=source, key=f"item:{name}")
    except InputError as exc:
        return ReadFailure(name, str(exc))


def _feed_entry(entry: Mapping[str, Any], *, origin: str, fetch_page: Callable[[str], Article] | None) -> Article:
    link = entry.get("link")
    published = normalize_date(entry.get("published_parsed") or entry.get("updated_parsed"))
    full = entry["content"][0].get("value") if entry.get("content") else None
    text = html_fragment_text(full or entry.get("summary") or "")
    if fetch_page is not None and link and not (full and len(text) >= FULL_TEXT_CHARS):
        page = fetch_page(link)  # a page that cannot be fetched fails the entry, by name: no silent summary
        text, published = page.text, published or page.published
    if not text:
        raise InputError("feed entry has no text and no link to fetch")
    key = feed_entry_key(entry, origin)
    record = {"text": text, "title": entry.get("title"), "url": link, "published": published}
    return article_from_record(record, origin=origin, source=host_of(link) or "feed", key=key)


def html_fragment_text(html: str) -> str:
    """Readable text of an HTML fragment (a feed entry's content): one paragraph per block element."""
    if not html.strip():
        return ""
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    for element in root.iter(*_BLOCK_TAGS):
        element.tail = "\n\n" + (element.tail or "")
    paragraphs = (" ".join(part.split()) for part in root.text_content().split("\n\n"))
    return "\n\n".join(p for p in paragraphs if p)


def _first(record: Mapping[str, Any], fields: tuple[str, ...]) -> Any:
    for field in fields:
        value = record.get(field)
        if value not in (None, ""):
            return value
    return None
