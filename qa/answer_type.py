"""What kind of thing a question asks for, and the names and numbers in a sentence that could be it.

"Which country ...?" asks for a country, "What percentage ...?" for a percentage: the expected answer type, the
question's focus. The offline answerer embeds it beside each candidate name and prefers names that sit near
it ("Oman" is nearer "country" than "Thursday" is). "Who" and "where" get no type: the model places "Derna"
nearer "person" than "Kirsty Coventry", and typing them changed no benchmark answer.
"""

from __future__ import annotations

import re

from newsbot.text import STOPWORDS, WORD

_NAME = r"(?:[A-Z][\w'\u2019.-]*|\d[\d,.]*%?)"
# A name ends at a full stop after a word or a number ("in Washington. Trump said"), not after an initial or an
# abbreviation ("U.S. President", "Mr. Smith").
_PHRASE = re.compile(rf"{_NAME}(?:(?<![a-z]{{2}}\.)(?<!\d\.)\s+(?:(?:of|the|and|de|al|for)\s+)?{_NAME})*")
_FOCUS = re.compile(r"\b(?:which|what)\s+([^?]*)", re.IGNORECASE)
# Irregular past forms end a question's focus like the -ed ones do ("which team won").
_IRREGULAR_PAST = set(
    """fought won led took taken held made gave given went gone came come met left lost paid sold told said struck
    began begun became brought bought built chose chosen fell fallen found got grew kept knew known ran rose saw seen
    sent shot spent stood stole stolen swore sworn wrote written spoke spoken died dead killed elected""".split()
)
_FOCUS_STOP = STOPWORDS | _IRREGULAR_PAST | {"say", "says", "recently", "now", "last", "may", "might", "must", "shall"}
_FOCUS_WORDS = 3
_FIXED = (
    (re.compile(r"\bhow (?:many|much)\b", re.IGNORECASE), "number"),
    (re.compile(r"\bwhat (?:percentage|percent|share)\b", re.IGNORECASE), "percentage"),
    (re.compile(r"\bwhat year\b|\bwhen\b", re.IGNORECASE), "date"),
)
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*%?|\w+")  # "20.8%" stays one token, and keeps the sign that makes it a percentage
_INITIALS = re.compile(r"\b([a-z])\.(?=[a-z]\b)")  # "U.S." is "us", not "u s"
_POSSESSIVE = re.compile(r"['\u2019]s\b")
# A weekday dates a report relative to itself ("on Saturday"); several reports of one event repeat it, so left
# in it would win the vote for every question about that event.
_WEEKDAYS = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
_PREFIX = 5  # "Yemeni" in the question rules out "Yemen" as its answer
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
# A wire dateline ("WASHINGTON -", "KATHMANDU, April 26", "LONDON (Reuters) -") names where the reporter filed
# from, not an answer; every report from that city repeats it, so left in it would win the vote.
_DATELINE = re.compile(
    rf"^\s*[A-Z][A-Z.'\u2019-]+(?:\s+[A-Z][A-Z.'\u2019-]+)*"
    rf"(?:\s*,\s*{_MONTH}\s+\d{{1,2}}\b|(?:\s*\([^)]*\))?\s*[-\u2010-\u2015\u2212])"
)


def expected_type(question: str) -> str | None:
    """The question's focus ("country", "us retailer", "number"), or None when it names none."""
    for pattern, kind in _FIXED:
        if pattern.search(question):
            return kind
    focus = _FOCUS.search(question)
    if focus:
        head = []
        for word in re.split(r"[^\w\s'-]", focus.group(1).lower())[0].split()[:_FOCUS_WORDS]:
            if word in _FOCUS_STOP or (head and word.endswith("ed")):  # "which oil giant announced"
                break
            head.append(word)
        if head:
            return " ".join(head)
    return None


def answer_phrases(text: str, question: str) -> set[str]:
    """Names and numbers in ``text`` that the question does not already contain (lower-cased)."""
    asked = set(WORD.findall(question.lower()))
    found = set()
    for match in _PHRASE.finditer(_DATELINE.sub("", text, count=1)):
        name = _INITIALS.sub(r"\1", _POSSESSIVE.sub("", match.group().lower()))
        content = [w for w in _TOKEN.findall(name) if w not in STOPWORDS and w not in _WEEKDAYS]
        if content and not all(_asked(w, asked) for w in content):
            found.add(" ".join(content))
    return found


def _asked(word: str, asked: set[str]) -> bool:
    """Whether a phrase word is one of the question's, or shares its first letters with one ("Yemen", "Yemeni")."""
    return word in asked or any(len(word) >= _PREFIX and word[:_PREFIX] == other[:_PREFIX] for other in asked)
