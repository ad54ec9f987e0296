"""Text helpers: one tokenizer and stemmer shared by keyword search and answer scoring, and the cleaning that
keeps hostile text inert (control characters out of stored articles and terminal output)."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

WORD = re.compile(r"\w+")
# C0 and C1 control characters other than tab and newline: ESC starts terminal escapes (window title, OSC 52
# clipboard writes, clearing the screen), CR overwrites a line, and none of them belongs in news text. Whole
# escape sequences go (their parameters are no text either): OSC and other strings up to BEL or ST, CSI up to
# its final byte, then any control character left.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC, DCS, SOS, PM, APC
    r"|(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"  # CSI
    r"|\x1b[ -/]*[0-~]?"  # any other escape
)


def strip_controls(text: str) -> str:
    """``text`` without terminal escape sequences and control characters other than tab and newline (line
    ends made ``\\n``)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", text))


def quoted_name(name: str) -> str:
    """A file name or URL fit for a one-line report: quoted (escapes visible) when it holds control characters."""
    return repr(name) if _CONTROL.search(name) or "\n" in name or "\t" in name else name


STOPWORDS = frozenset(
    """a about after all also an and any are as at be been before being but by can could did do does doing for
    from had has have having he her here hers him his how i if in into is it its just me more most my no not now
    of on or our out over she should so some such than that the their them then there these they this those to
    under up was we were what when where which while who whom whose why will with would you your""".split()
)


def content_terms(text: str) -> list[str]:
    """Lower-case words of ``text`` without stopwords and single letters (the possessive "s" of "Trump's", in
    two of three news chunks), in order, each once."""
    words = WORD.findall(text.lower())
    return list(dict.fromkeys(w for w in words if w not in STOPWORDS and (len(w) > 1 or w.isdigit())))


def keyword_terms(query: str) -> list[str]:
    """What keyword search looks for: the query's content terms, or all its words when it has none."""
    return content_terms(query) or list(dict.fromkeys(WORD.findall(query.lower())))


KEYWORD_TOKENIZER = "porter unicode61 remove_diacritics 2"
# Irregular forms Porter leaves apart from their base ("fought", "fight"): the one stemmer maps each to its
# base's stem, and keyword search asks for every form of a term's base, so both halves of a score agree.
IRREGULAR = dict(
    pair.split(":")
    for pair in """fought:fight won:win led:lead took:take taken:take held:hold made:make gave:give given:give went:go
    gone:go came:come met:meet left:leave lost:lose paid:pay sold:sell told:tell said:say struck:strike
    began:begin begun:begin became:become brought:bring bought:buy built:build chose:choose
    chosen:choose fell:fall fallen:fall found:find got:get grew:grow kept:keep knew:know known:know
    ran:run rose:rise saw:see seen:see sent:send shot:shoot spent:spend stood:stand stole:steal
    stolen:steal swore:swear sworn:swear wrote:write written:write spoke:speak spoken:speak died:die
    dead:die killed:kill elected:elect""".split()
)


class _Stemmer:
    """Porter stems as the keyword index makes them (its own FTS5 tokenizer, run on an in-memory table), with
    irregular forms joined to their base: a word counts as a question's key term in a sentence exactly when
    keyword search would match it there."""

    def __init__(self) -> None:
        self._db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        self._db.execute(f"CREATE VIRTUAL TABLE texts USING fts5 (body, tokenize = '{KEYWORD_TOKENIZER}')")
        self._db.execute("CREATE VIRTUAL TABLE terms USING fts5vocab (texts, 'instance')")
        self._lock = threading.Lock()
        forms, bases = list(IRREGULAR), list(IRREGULAR.values())
        porter = [min(stems) for stems in self._porter(forms + bases)]
        self._aliases = dict(zip(porter[: len(forms)], porter[len(forms) :], strict=True))
        self._forms: dict[str, set[str]] = {}
        for form, base, stem in zip(forms, bases, porter[len(forms) :], strict=True):
            self._forms.setdefault(stem, {base}).add(form)

    def stems(self, texts: Sequence[str]) -> list[set[str]]:
        return [{self._aliases.get(term, term) for term in found} for found in self._porter(texts)]

    def forms(self, word: str) -> list[str]:
        """``word`` and every irregular form that shares its stem ("win" -> win, won)."""
        (stems,) = self.stems([word])
        extra = set().union(*(self._forms.get(stem, set()) for stem in stems)) - {word}
        return [word, *sorted(extra)]

    def _porter(self, texts: Sequence[str]) -> list[set[str]]:
        return [set(counts) for counts in self.counts(texts)]

    def counts(self, texts: Sequence[str]) -> list[Counter[str]]:
        """How often each token (as the index tokenizes, no irregular forms joined) occurs in each text."""
        found: list[Counter[str]] = [Counter() for _ in texts]
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany("INSERT INTO texts (rowid, body) VALUES (?, ?)", enumerate(texts))
                for row, term in self._db.execute("SELECT doc, term FROM terms"):
                    found[row][term] += 1
            finally:
                self._db.execute("ROLLBACK")
        return found


_STEMMER = _Stemmer()


def stemmed_words(texts: Sequence[str]) -> list[set[str]]:
    """The stems of the words of each text ("governs", "governed" -> "govern"; "fought" -> "fight")."""
    return _STEMMER.stems(texts)


def stemmed_terms(text: str) -> set[str]:
    """The stems of a question's or claim's key terms (``content_terms``)."""
    return stemmed_words([" ".join(content_terms(text))])[0]


@lru_cache(maxsize=65536)
def keyword_forms(term: str) -> tuple[str, ...]:
    """What keyword search asks for to find ``term`` as the stemmer would: the term and its irregular forms.
    Cached: each question's terms are asked for twice (the search, then each term's IDF) and recur."""
    return tuple(_STEMMER.forms(term))


def keyword_tokens(texts: Sequence[str]) -> list[Counter[str]]:
    """Token counts of each text exactly as the FTS5 keyword index makes them: what a keyword index outside
    SQLite (PostgreSQL's) stores, so that both rank alike."""
    return _STEMMER.counts(texts)
