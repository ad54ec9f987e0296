"""Word-level helpers shared by keyword search and answer scoring: one tokenizer and stemmer for both."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Sequence

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


KEYWORD_TOKENIZER = "porter unicode61 remove_diacritics 2"


class _Stemmer:
    """Stems by the keyword index's own tokenizer (SQLite FTS5, Porter), run on an in-memory table, so that a
    word counts as a question's key term in a sentence exactly when the keyword search would match it there."""

    def __init__(self) -> None:
        self._db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        self._db.execute(f"CREATE VIRTUAL TABLE texts USING fts5 (body, tokenize = '{KEYWORD_TOKENIZER}')")
        self._db.execute("CREATE VIRTUAL TABLE terms USING fts5vocab (texts, 'instance')")
        self._lock = threading.Lock()

    def stems(self, texts: Sequence[str]) -> list[set[str]]:
        found: list[set[str]] = [set() for _ in texts]
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany("INSERT INTO texts (rowid, body) VALUES (?, ?)", enumerate(texts))
                for row, term in self._db.execute("SELECT doc, term FROM terms"):
                    found[row].add(term)
            finally:
                self._db.execute("ROLLBACK")
        return found


_STEMMER = _Stemmer()


def stemmed_words(texts: Sequence[str]) -> list[set[str]]:
    """The stems of the words of each text, as the keyword index stems them ("governs", "governed" -> "govern")."""
    return _STEMMER.stems(texts)


def stemmed_terms(text: str) -> set[str]:
    """The stems of a question's or claim's key terms (``content_terms``)."""
    return stemmed_words([" ".join(content_terms(text))])[0]
