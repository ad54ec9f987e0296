"""Word-level helpers shared by keyword search and answer scoring."""

from __future__ import annotations

import re

WORD = re.compile(r"\w+")
STOPWORDS = frozenset(
    """a about after all also an and any are as at be been before being but by can could did do does doing for
    from had has have having he her here hers him his how i if in into is it its just me more most my no not now
    of on or our out over she should so some such than that the their them then there these they this those to
    under up was we were what when where which while who whom whose why will with would you your""".split()
)


def content_terms(text: str) -> list[str]:
    """Lower-case words of ``text`` without stopwords, in order, each once."""
    return list(dict.fromkeys(w for w in WORD.findall(text.lower()) if w not in STOPWORDS))


def stem(word: str) -> str:
    """A light suffix stripper (plural, possessive, -ed, -ing) so that "governs" meets "governed"."""
    for suffix in ("'s", "ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word
