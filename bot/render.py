"""Telegram HTML for answers and sources. Everything that comes from articles or models is escaped."""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape, unescape

from newsbot.records import Answer, Citation

MESSAGE_LIMIT = 4096
QUOTE_LIMIT = 3000
TITLE_LIMIT = 300  # characters of a title shown (a hostile feed can send 5,000)


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
    title = " ".join(citation.title.split())
    if len(title) > TITLE_LIMIT:
        title = title[:TITLE_LIMIT].rsplit(" ", 1)[0] + " …"
    lines = [
        f"<b>[{citation.n}] {text_html(title)}</b>",
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
    """Well-formed pieces of at most ``limit`` UTF-16 code units (Telegram's measure: an emoji counts two),
    cut at paragraph boundaries, then line boundaries, then spaces. A cut inside an element closes it at the
    end of one piece and opens it again at the start of the next; tags and entities are never cut."""
    blocks = [block for paragraph in html.split("\n\n") for block in _within(paragraph, "\n", limit)]
    return _pack(blocks, "\n\n", limit)


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _within(block: str, separator: str, limit: int) -> list[str]:
    """A block as well-formed pieces of at most ``limit``: whole lines where they fit, else cut inside them."""
    if utf16_length(block) <= limit:
        return [block]
    if separator == "\n" and "\n" in block and _balanced_lines(block):
        return _pack([p for line in block.split("\n") for p in _within(line, "", limit)], "\n", limit)
    return _cut(block, limit)


def _balanced_lines(block: str) -> bool:
    """Whether every line of the block closes the elements it opens (true of our renderings)."""
    return all(not _open_after(line) for line in block.split("\n"))


_TOKEN = re.compile(r"<[^>]*>|[^<]+|<")
_ESCAPED = {"&": 5, "<": 4, ">": 4}  # &amp; &lt; &gt;
_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)")


def _open_after(html: str, stack: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    """The elements still open after ``html`` (name, opening tag), outermost first."""
    stack = list(stack or [])
    for token in _TOKEN.findall(html):
        tag = _TAG.match(token)
        if not tag:
            continue
        if tag.group(1):
            if stack and stack[-1][0] == tag.group(2).lower():
                stack.pop()
        elif not token.endswith("/>"):
            stack.append((tag.group(2).lower(), token))
    return stack


def _cut(html: str, limit: int) -> list[str]:
    """Pieces of at most ``limit``, cut between tags or inside text (after the last space that fits, an
    entity whole), each closing the elements open at its end and the next opening them again."""
    pieces: list[str] = []
    stack: list[tuple[str, str]] = []
    current = ""

    def reopened() -> str:
        return "".join(opening for _, opening in stack)

    def room() -> int:
        return limit - utf16_length(current) - sum(len(name) + 3 for name, _ in stack)

    def flush() -> None:
        nonlocal current
        pieces.append(current + "".join(f"</{name}>" for name, _ in reversed(stack)))
        current = reopened()
        if room() < 8:
            raise ValueError(f"a message limit of {limit} leaves no room inside the open elements")

    for token in _TOKEN.findall(html):
        if token.startswith("<") and len(token) > 1:  # a tag: whole
            if utf16_length(token) > room():
                flush()
            current += token
            stack = _open_after(token, stack)
            continue
        text = unescape(token)
        while utf16_length(text_html(text)) > room():
            fits = _prefix_within(text, room())
            cut = fits.rfind(" ") + 1
            if cut:  # after the last space that fits
                fits = fits[:cut]
            elif current != reopened():
                flush()  # a word that does not fit starts the next piece
                continue
            current += text_html(fits)  # else a word longer than a whole piece: cut inside it
            text = text[len(fits) :]
            flush()
        current += text_html(text)
    if current != reopened():
        pieces.append(current + "".join(f"</{name}>" for name, _ in reversed(stack)))
    return pieces


def _prefix_within(text: str, units: int) -> str:
    """The longest prefix of ``text`` whose escaped form fits ``units`` UTF-16 units (code points whole)."""
    end, used = 0, 0
    for ch in text:
        used += _ESCAPED.get(ch, 2 if ord(ch) > 0xFFFF else 1)
        if used > units:
            break
        end += 1
    return text[:end]


def _pack(blocks: list[str], separator: str, limit: int) -> list[str]:
    """Consecutive blocks joined by ``separator`` into as few pieces of at most ``limit`` as they fit in."""
    pieces: list[str] = []
    current = ""
    for block in blocks:
        candidate = f"{current}{separator}{block}" if current else block
        if utf16_length(candidate) <= limit:
            current = candidate
        else:
            if current:
                pieces.append(current)
            current = block
    if current:
        pieces.append(current)
    return pieces
