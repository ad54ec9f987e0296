"""Server-rendered HTML: the passage page, the ask page and error pages. Every value from an article, a model or a
request is escaped here; pages carry no script and load only the same-origin stylesheet."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape
from typing import Any
from urllib.parse import urlsplit

from newsbot.records import Answer, Citation

MARKER = re.compile(r"\[(\d+)\]")


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{_e(title)} · newsbot</title><link rel="stylesheet" href="/static/style.css"></head>'
        f'<body><header><a href="/">newsbot</a></header><main>{body}</main></body></html>\n'
    )


def original_link(url: str | None) -> str:
    """The article's original address as a link, when it is a web address (any other scheme stays text)."""
    if not url:
        return ""
    if urlsplit(url).scheme.lower() in ("http", "https"):
        return f'<a href="{_e(url)}" rel="noopener noreferrer nofollow">{_e(url)}</a>'
    return _e(url)


def passage_page(view: dict[str, Any], matches: bool | None) -> str:
    """The whole stored article with the span marked (``id=q``, so a link ending in ``#q`` scrolls to it) and a
    line saying whether the text there is the quote (``matches``; None when the link named no quote)."""
    start, end = view["start"], view["end"]
    where = f"characters {start}&ndash;{end}"
    if matches is None:
        check = f'<p class="check">The highlighted text is {where} of the article as stored.</p>'
    elif matches:
        check = f'<p class="check ok">✓ The stored article says exactly the quoted words at {where}.</p>'
    else:
        check = (
            f'<p class="check bad">✗ The stored text at {where} is not what was quoted: the article has changed '
            "since the link was made. The highlighted text is what it says now.</p>"
        )
    meta = " · ".join(_e(part) for part in (view["source"], view["published"] or "undated"))
    original = original_link(view["url"])
    body = (
        f'<article class="passage"><h1>{_e(view["title"])}</h1><p class="meta">{meta}</p>'
        + (f'<p class="meta">Original: {original}</p>' if original else "")
        + check
        + f'<p class="where">Article {_e(view["article_id"])}, {where} of {view["length"]}.</p>'
        + f'<div class="text">{_e(view["before"])}<mark id="q">{_e(view["passage"])}</mark>{_e(view["after"])}</div>'
        + "</article>"
    )
    return page(view["title"], body)


def ask_page(question: str, answer: Answer | None, link: Callable[[Citation], str], stats: dict[str, Any]) -> str:
    """The question box, and the answer with its numbered citations, each linking to its passage page."""
    form = (
        '<form class="ask" method="get" action="/" role="search">'
        '<label for="question">Ask about the stored news</label>'
        f'<input id="question" name="q" type="search" value="{_e(question)}" required>'
        "<button>Ask</button></form>"
    )
    held = (
        f'<p class="meta">{stats["articles"]} articles from {len(stats["sources"])} sources, published '
        f"{_e(stats['first_published'] or '?')} to {_e(stats['last_published'] or '?')}.</p>"
    )
    return page(question or "Ask", form + (_answer_html(answer, link) if answer else "") + held)


def _answer_html(answer: Answer, link: Callable[[Citation], str]) -> str:
    cited = {c.n: c for c in answer.citations}

    def numbered(match: re.Match[str]) -> str:
        citation = cited.get(int(match[1]))
        return f'<a href="{_e(link(citation))}">{match[0]}</a>' if citation else match[0]

    parts = [f'<section class="answer"><p>{MARKER.sub(numbered, _e(answer.text))}</p>']
    parts.extend(f'<p class="note">{_e(note)}</p>' for note in answer.notes)
    if answer.citations:
        parts.append(f'<h2>{"Closest passages" if answer.abstained else "Sources"}</h2><ol class="sources">')
        parts.extend(_citation_html(c, link(c)) for c in answer.citations)
        parts.append("</ol>")
    parts.append("</section>")
    return "".join(parts)


def _citation_html(citation: Citation, href: str) -> str:
    original = original_link(citation.url)
    return (
        f'<li value="{citation.n}"><a class="open" href="{_e(href)}">{_e(citation.title)}</a> '
        f'<span class="meta">{_e(citation.source)} · {_e(citation.published or "undated")}</span>'
        f"<blockquote>{_e(' '.join(citation.quote.split()))}</blockquote>"
        + (f'<p class="meta">Original: {original}</p>' if original else "")
        + "</li>"
    )


def error_page(status: int, message: str) -> str:
    headings = {403: "Not allowed", 404: "Not found", 409: "Not in the stored article", 429: "Too many requests"}
    heading = headings.get(status, "Cannot show that")
    return page(heading, f'<h1>{heading}</h1><p class="error">{_e(message)}</p>')
