"""Telegram HTML for answers and sources. Everything that comes from articles or models is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from newsbot.records import Answer, Citation

MESSAGE_LIMIT = 4096
QUOTE_LIMIT = 3000


def text_html(text: str) -> str:
    """Plain text made safe inside Telegram HTML (``<``, ``>`` and ``&`` escaped)."""
    return escape(text, quote=False)


def answer_html(answer: Answer) -> str:
    parts = [text_html(answer.text)]
    parts.extend(f"<i>{text_html(note)}</i>" for note in answer.notes)
    return "\n\n".join(parts)


def citation_html(citation: Citation) -> str:
    quote = " ".join(citation.quote.split())
    if len(quote) > QUOTE_LIMIT:
        quote = quote[:QUOTE_LIMIT].rsplit(" ", 1)[0] + " …"
    lines = [
        f"<b>[{citation.n}] {text_html(citation.title)}</b>",
        text_html(f"{citation.source}, {citation.published or 'undated'}"),
    ]
    if citation.url:
        lines.append(f'<a href="{escape(citation.url, quote=True)}">{text_html(citation.url)}</a>')
    lines.append(f"<blockquote expandable>{text_html(quote)}</blockquote>")
    lines.append(f"<code>newsbot show {citation.article_id}:{citation.start}-{citation.end}</code>")
    return "\n".join(lines)


def sources_html(citations: Sequence[Citation]) -> str:
    return "\n\n".join(citation_html(c) for c in citations) or "This answer cites no passage."


def split_message(html: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Pieces of at most ``limit`` characters, cut at paragraph boundaries (then line boundaries), so that
    no HTML element is split: our renderings never put a paragraph break inside an element."""
    blocks = [block for paragraph in html.split("\n\n") for block in _within(paragraph, limit)]
    return _pack(blocks, "\n\n", limit)


def _within(paragraph: str, limit: int) -> list[str]:
    """A paragraph as pieces of at most ``limit`` characters, cut between lines."""
    if len(paragraph) <= limit:
        return [paragraph]
    lines: list[str] = []
    for line in paragraph.split("\n"):
        while len(line) > limit:  # one escaped line longer than a message: plain text, cut at a space
            cut = line.rfind(" ", 0, limit) if " " in line[:limit] else limit
            lines.append(line[:cut])
            line = line[cut:].lstrip()
        lines.append(line)
    return _pack(lines, "\n", limit)


def _pack(blocks: list[str], separator: str, limit: int) -> list[str]:
    """Consecutive blocks joined by ``separator`` into as few pieces of at most ``limit`` as they fit in."""
    pieces: list[str] = []
    current = ""
    for block in blocks:
        candidate = f"{current}{separator}{block}" if current else block
        if len(candidate) <= limit:
            current = candidate
        else:
            pieces.append(current)
            current = block
    if current:
        pieces.append(current)
    return pieces
