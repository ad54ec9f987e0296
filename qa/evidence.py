"""What the LLM is given: the offline ranking's best sentences (with neighbours where `llm.context` asks),
numbered and grouped by report, the report holding the best-ranked sentence first. A few sentences instead of
ten whole passages: on a CPU the prompt's length is most of an answer's time, and a small model follows a short
prompt better, and leans on what comes first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from newsbot.qa.extractive import Candidate
from newsbot.records import Passage
from newsbot.sentences import sentence_spans


@dataclass(frozen=True)
class Numbered:
    """Sentence ``n`` as the model sees it: ``text == passage.text[start - passage.start : end - passage.start]``
    (``start`` and ``end`` are article offsets)."""

    n: int
    passage: Passage
    start: int
    end: int
    text: str


def evidence(ranked: Sequence[Candidate], best: int, context: int) -> list[Numbered]:
    """The ``best`` top-ranked sentences and up to ``context`` sentences either side of each, in their passage;
    a sentence that two overlapping passages hold is given once. Reports come in the order of their best-ranked
    sentence (the reader's ranking already weighs recency), each report's sentences in its own order."""
    spans: dict[tuple[str, int, int], Passage] = {}
    report_rank: dict[str, int] = {}
    for rank, candidate in enumerate(ranked[:best]):
        passage = candidate.passage
        report_rank.setdefault(passage.article_id, rank)
        around = [(passage.start + s, passage.start + e) for s, e in sentence_spans(passage.text)]
        here = next((i for i, (s, e) in enumerate(around) if s <= candidate.start < e), None)
        if here is None:  # a sentence cut to the quoting budget still starts inside its own span
            around, here = [(candidate.start, candidate.end)], 0
        for start, end in around[max(0, here - context) : here + context + 1]:
            if not any(k[0] == passage.article_id and k[1] < end and start < k[2] for k in spans):
                spans[(passage.article_id, start, end)] = passage
    order = sorted(spans.items(), key=lambda item: (report_rank[item[1].article_id], item[0][1]))
    return [
        Numbered(n, passage, start, end, passage.text[start - passage.start : end - passage.start])
        for n, ((_, start, end), passage) in enumerate(order, start=1)
    ]
