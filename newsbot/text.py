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


def stem(word: str) -> str:
    """A light lemmatiser: common irregular verbs, then plural, possessive, -ed and -ing suffixes, so that
    "governs" meets "governed" and "fought" meets "fight"."""
    if word in IRREGULAR:
        return IRREGULAR[word]
    for suffix in ("'s", "ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def stemmed_words(text: str) -> set[str]:
    """The stems of every word of ``text``: what the stems of a question's or claim's key terms are looked up in."""
    return {stem(w) for w in WORD.findall(text.lower())}
