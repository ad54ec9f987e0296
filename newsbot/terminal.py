"""Plain-text renderings for the terminal: answers with their sources, and a cited passage in context. Stored
text passes through ``strip_controls`` again on its way out: a store written before ingest stripped control
characters, or by another program, must not drive the terminal."""

from __future__ import annotations

import textwrap
from typing import Any, TextIO

from newsbot.records import Answer
from newsbot.text import strip_controls


def answer_text(answer: Answer) -> str:
    return strip_controls(_answer_lines(answer))


def _answer_lines(answer: Answer) -> str:
    lines = [*(textwrap.fill(line, width=100) for line in answer.text.splitlines()), ""]  # its lines kept
    if answer.citations:
        lines.append("Sources:" if not answer.abstained else "Closest passages:")
    for c in answer.citations:
        lines.append(f"[{c.n}] {c.title} ({c.source}, {c.published or 'undated'})")
        if c.url:
            lines.append(f"    {c.url}")
        lines.append(
            textwrap.fill(" ".join(c.quote.split()), width=96, initial_indent="    > ", subsequent_indent="      ")
        )
        lines.append(f"    newsbot show {c.article_id}:{c.start}-{c.end}")
    for note in answer.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


class TerminalDraft:
    """An LLM's unchecked answer written to ``stream`` as it arrives, on a line marked as unchecked (the checked
    answer, which may differ, is printed after it); ``close`` ends the line."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.shown = ""

    def update(self, text: str) -> None:
        text = strip_controls(" ".join(text.split()))
        if self.shown and text.startswith(self.shown):
            self._write(text[len(self.shown) :])
        else:  # the first words, or the text so far changed behind what was shown: start a line again
            self._write(("\n" if self.shown else "") + f"unchecked: {text}")
        self.shown = text

    def close(self) -> None:
        if self.shown:
            self._write("\n")

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


def passage_text(view: dict[str, Any], *, highlight: bool) -> str:
    """The passage in its context, highlighted with our own escape codes (the only ones that reach the terminal)."""
    view = {k: strip_controls(v) if isinstance(v, str) else v for k, v in view.items()}
    on, off = ("\033[1;7m", "\033[0m") if highlight else (">>>", "<<<")
    lines = [f"{view['title']} ({view['source']}, {view['published'] or 'undated'})"]
    if view["url"]:
        lines.append(view["url"])
    lines.append(f"article {view['article_id']}, characters {view['start']}-{view['end']} of {view['length']}")
    lines.append("")
    lines.append(
        f"{'…' if view['context_start'] > 0 else ''}{view['before']}{on}{view['passage']}{off}"
        f"{view['after']}{'…' if view['context_end'] < view['length'] else ''}"
    )
    if view["verbatim"] is not None:
        lines.append("")
        lines.append(
            "quote matches the article verbatim"
            if view["verbatim"]
            else "quote DOES NOT match the article at these offsets (the highlighted text is what it says)"
        )
    return "\n".join(lines)
