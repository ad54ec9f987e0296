"""Checking cited passages against the stored articles."""

from __future__ import annotations

import re
from typing import Any

from newsbot.corpus.store import Store

CONTEXT_CHARS = 300
_REFERENCE = re.compile(r"^(?P<id>[0-9a-f]{16})(?::(?P<start>\d+)-(?P<end>\d+))?$")


class CitationError(ValueError):
    """A reference that is malformed, names no stored article, or has offsets outside it."""


class SpanOutside(CitationError):
    """The offsets lie outside the stored article (it changed since the reference was made, or never held them)."""


def passage_view(
    store: Store, reference: str, quote: str | None = None, context: int | None = CONTEXT_CHARS
) -> dict[str, Any]:
    """The passage ``ARTICLE_ID[:START-END]`` with ``context`` characters around it (None: the whole article);
    ``verbatim`` says whether ``quote`` (when given) is exactly the article's text at those offsets."""
    match = _REFERENCE.match(reference.strip())
    if not match:
        raise CitationError(f"{reference!r} is not ARTICLE_ID or ARTICLE_ID:START-END (16 hex digits, then offsets)")
    article = store.article(match["id"])
    if article is None:
        raise CitationError(f"no stored article has id {match['id']}")
    length = len(article.text)
    start, end = (int(match["start"]), int(match["end"])) if match["start"] else (0, length)
    if not 0 <= start < end <= length:
        raise SpanOutside(f"span {start}-{end} lies outside article {article.id}, which has {length} characters")
    context = length if context is None else context
    context_start, context_end = max(0, start - context), min(length, end + context)
    return {
        "article_id": article.id,
        "title": article.title,
        "source": article.source,
        "published": article.published,
        "url": article.url,
        "start": start,
        "end": end,
        "length": length,
        "passage": article.text[start:end],
        "before": article.text[context_start:start],
        "after": article.text[end:context_end],
        "context_start": context_start,
        "context_end": context_end,
        "verbatim": None if quote is None else article.text[start:end] == quote,
    }
