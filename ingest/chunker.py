"""Sentence-aware chunking with exact character offsets.

Paragraphs (split at blank lines) are cut into sentences by blingfire, a compiled splitter that keeps
character offsets and runs at millions of characters a second, so chunking costs nothing next to
embedding. Single line breaks inside a paragraph (hard-wrapped wire copy) are read as spaces, which keeps
offsets unchanged because the replacement has the same length.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import blingfire

from corpus.types import Article, Chunk

_PARAGRAPH = re.compile(r"\S(?:[^\n]|\n(?![ \t\r\f\v]*\n))*")
_WHITESPACE = re.compile(r"\s")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every sentence, in order, never crossing a paragraph break."""
    spans: list[tuple[int, int]] = []
    for para in _PARAGRAPH.finditer(text):
        body = para.group().rstrip()
        base = para.start()
        flat = _WHITESPACE.sub(" ", body)
        _, offsets = blingfire.text_to_sentences_and_offsets(flat)
        for start, end in offsets:
            start, end = _trim(text, base + start, base + end)
            if start < end:
                spans.append((start, end))
    return spans


def chunk_spans(text: str, size: int, overlap: int) -> list[tuple[int, int]]:
    """Group sentences into spans of at most ``size`` characters (a longer sentence is cut at spaces),
    each repeating up to ``overlap`` characters of trailing sentences from the one before."""
    pieces = [piece for span in sentence_spans(text) for piece in _split_long(text, span, size)]
    chunks: list[tuple[int, int]] = []
    window: list[tuple[int, int]] = []
    for piece in pieces:
        if window and piece[1] - window[0][0] > size:
            chunks.append((window[0][0], window[-1][1]))
            window = _tail(window, overlap)
            while window and piece[1] - window[0][0] > size:
                window.pop(0)
        window.append(piece)
    if window:
        chunks.append((window[0][0], window[-1][1]))
    return chunks


def chunk_article(article: Article, size: int, overlap: int) -> list[Chunk]:
    return [
        Chunk(
            id=f"{article.id}-{article.text_hash[:10]}-{seq}",
            article_id=article.id,
            seq=seq,
            start=start,
            end=end,
            text=article.text[start:end],
        )
        for seq, (start, end) in enumerate(chunk_spans(article.text, size, overlap))
    ]


def _tail(window: list[tuple[int, int]], overlap: int) -> list[tuple[int, int]]:
    """The trailing sentences of ``window`` whose combined span fits in ``overlap`` characters."""
    end = window[-1][1]
    kept = [span for span in window if end - span[0] <= overlap]
    return kept if len(kept) < len(window) else kept[1:]


def _split_long(text: str, span: tuple[int, int], size: int) -> Iterator[tuple[int, int]]:
    start, end = span
    while end - start > size:
        cut = text.rfind(" ", start + 1, start + size + 1)
        if cut <= start:
            cut = start + size
        piece = _trim(text, start, cut)
        if piece[0] < piece[1]:
            yield piece
        start = _trim(text, cut, end)[0]
    if start < end:
        yield (start, end)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
