"""Normalising article fields: dates, datelines, titles, sources and URLs."""

from __future__ import annotations

import re
import time
from datetime import date, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from dateutil import parser as date_parser

_DATE_MARKER = re.compile(r"\A\s*date[:\s]+(\d{4}-\d{2}-\d{2})[ \t]*\n?[ \t]*")
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_DATELINE = re.compile(rf"\A([A-Z][A-Z'.\- ]*[A-Z](?:, [A-Z][A-Za-z.' ]*[A-Za-z.])?), ({_MONTH} \d{{1,2}})\b")
_TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid)$")
_FIRST_SENTENCE = re.compile(r"(.*?[.!?])(?=\s|$)")
TITLE_LIMIT = 120
_YEAR_START = datetime(2000, 1, 1)  # a date given as "2015" or "June 2015" reads as its first day


def split_date_marker(text: str) -> tuple[str | None, str]:
    """``date 2015-06-14 TRIPOLI, June 14 ...`` -> ("2015-06-14", "TRIPOLI, June 14 ...")."""
    match = _DATE_MARKER.match(text)
    if not match:
        return None, text
    return normalize_date(match.group(1)), text[match.end() :]


def find_dateline(text: str) -> str | None:
    """The wire dateline that opens a story, e.g. ``TRIPOLI, June 14``."""
    match = _DATELINE.match(text)
    return f"{match.group(1)}, {match.group(2)}" if match else None


def normalize_date(value: object) -> str | None:
    """An ISO date (YYYY-MM-DD) from a string, datetime or feedparser time tuple; None when unparseable."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, time.struct_time):
            parsed = date(value.tm_year, value.tm_mon, value.tm_mday)
        elif isinstance(value, datetime):
            parsed = value.date()
        elif isinstance(value, date):
            parsed = value
        else:
            parsed = date_parser.parse(str(value), default=_YEAR_START).date()
    except (ValueError, OverflowError, TypeError):
        return None
    if not 1800 <= parsed.year <= date.today().year + 1:
        return None
    return parsed.isoformat()


def title_from_text(text: str) -> str:
    """A title for an article that has none: its first sentence after any dateline, cut at a word boundary."""
    dateline = find_dateline(text)
    body = " ".join(text[len(dateline) if dateline else 0 :].split())
    sentence = _FIRST_SENTENCE.match(body)
    first = (sentence.group(1) if sentence else body).rstrip(".")
    if len(first) <= TITLE_LIMIT:
        return first
    cut = first.rfind(" ", 0, TITLE_LIMIT)
    return first[: cut if cut > 0 else TITLE_LIMIT].rstrip(" ,;:") + "…"


def host_of(url: str | None) -> str | None:
    if not url:
        return None
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.") or None


def is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def canonical_url(url: str) -> str:
    """The URL that identifies an article: no fragment, no tracking parameters, lower-case host."""
    parts = urlsplit(url.strip())
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING_PARAMS.match(k)]
    )
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", query, ""))
