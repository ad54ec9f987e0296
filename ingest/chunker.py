"""Sentence-aware chunking with exact character offsets: whole sentences packed up to a size, with overlap."""

from __future__ import annotations

from collections.abc import Iterator

from newsbot.records import Article, Chunk, chunk_id
from newsbot.sentences import sentence_spans, trim_span


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
            id=chunk_id(article.id, article.text_hash, seq),
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
        piece = trim_span(text, start, cut)
        if piece[0] < piece[1]:
            yield piece
        start = trim_span(text, cut, end)[0]
    if start < end:
        yield (start, end)
