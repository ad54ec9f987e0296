"""Sentence boundaries with exact character offsets, shared by chunking and answer extraction.

Paragraphs (split at blank lines) are cut into sentences by blingfire, a compiled splitter that keeps
character offsets and runs at millions of characters a second. Single line breaks inside a paragraph
(hard-wrapped wire copy) are read as spaces, which keeps offsets unchanged: the replacement has the same length.
"""

from __future__ import annotations

import re

import blingfire

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
            start, end = trim_span(text, base + start, base + end)
            if start < end:
                spans.append((start, end))
    return spans


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
