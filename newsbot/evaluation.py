"""``newsbot eval``: retrieval hit@k, answers containing the gold text, abstention, citation validity, latency.

Two question formats:
- RealTimeQA: ``<week>_qa.jsonl`` beside ``<week>_gcs.jsonl``; each week's articles are ingested into a store of
  their own (under the work folder, reused on later runs) and its questions are asked without the choices.
  The gold answer is ``choices[int(answer[0])]``.
- Our own JSONL: ``{"question": ..., "answers": [...]}`` a line, asked against the configured store.
A question is "answerable" when a gold text occurs in some article of the store it is asked against, and
"stated" when, further, a sentence holding the gold text shares at least two of the question's key terms: the
articles say the answer in context instead of mentioning the words in passing ("Los Angeles" in a story on a
San Diego fire does not state which city burned). Scores are reported for both.
"""

from __future__ import annotations

import json
import re
import statistics
import string
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from newsbot.corpus.store import Store
from newsbot.ingest.formats import InputError, article_from_record, html_fragment_text
from newsbot.qa.llm import reply_outcome
from newsbot.records import Answer, Filters, Passage
from newsbot.sentences import sentence_spans
from newsbot.settings import Settings
from newsbot.text import stemmed_terms, stemmed_words

HIT_AT = (1, 4, 10)
STATED_TERMS = 2  # key terms of the question a sentence must share to state the answer rather than mention it
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_MARKER = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    gold: tuple[str, ...]
    keys: tuple[str, ...] | None = None  # identity keys of the articles this question is asked over
    as_of: str | None = None  # the day it was asked (RealTimeQA's question_date): later articles are hidden


@dataclass
class MethodScore:
    contains: int = 0
    contains_answerable: int = 0
    contains_stated: int = 0
    abstained: int = 0
    abstained_answerable: int = 0  # correct answers lost to abstention, at most
    abstained_unanswerable: int = 0  # of the questions with articles that do not hold the answer
    citations: int = 0
    citations_valid: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    first_words_ms: list[float] = field(default_factory=list)  # an LLM's first streamed words


@dataclass
class EvalReport:
    questions: int = 0
    answerable: int = 0
    stated: int = 0
    unanswerable_with_articles: int = 0
    hits: dict[int, int] = field(default_factory=lambda: dict.fromkeys(HIT_AT, 0))
    hits_stated: dict[int, int] = field(default_factory=lambda: dict.fromkeys(HIT_AT, 0))
    methods: dict[str, MethodScore] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    llm_replies: dict[str, int] = field(default_factory=dict)  # outcome -> replies (with an LLM configured)
    llm_reasons: dict[str, int] = field(default_factory=dict)  # why replies were trimmed or refused

    def summary(self) -> dict[str, Any]:
        def share(count: int, total: int) -> float | None:
            return round(count / total, 4) if total else None

        return {
            "questions": self.questions,
            "answerable": self.answerable,
            "retrieval_hit_at": {str(k): share(v, self.answerable) for k, v in self.hits.items()},
            "stated": self.stated,
            "retrieval_hit_at_stated": {str(k): share(v, self.stated) for k, v in self.hits_stated.items()},
            "unanswerable_with_articles": self.unanswerable_with_articles,
            "methods": {
                name: {
                    "contains_gold_answerable": share(m.contains_answerable, self.answerable),
                    "contains_gold_stated": share(m.contains_stated, self.stated),
                    "contains_gold_all": share(m.contains, self.questions),
                    "abstention_rate": share(m.abstained, self.questions),
                    "abstained_answerable": share(m.abstained_answerable, self.answerable),
                    "abstained_unanswerable_with_articles": share(
                        m.abstained_unanswerable, self.unanswerable_with_articles
                    ),
                    "citation_validity": share(m.citations_valid, m.citations),  # None: it cited nothing
                    "median_latency_ms": _percentile(m.latencies_ms, 50),
                    "p90_latency_ms": _percentile(m.latencies_ms, 90),
                    "median_first_words_ms": _percentile(m.first_words_ms, 50),
                    "p90_first_words_ms": _percentile(m.first_words_ms, 90),
                }
                for name, m in self.methods.items()
            },
            "llm_replies": {**self.llm_replies, "reasons": self.llm_reasons} if self.llm_replies else None,
        }


def _percentile(values: list[float], percent: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[percent - 1], 1)


def normalize(text: str) -> str:
    """SQuAD answer normalisation (lower case, no punctuation, no articles, single spaces), with Unicode
    punctuation removed too: a quote in curly quotation marks, or a curly apostrophe, must match the gold."""
    text = "".join(ch for ch in text.lower() if ch not in string.punctuation and not _is_punctuation(ch))
    return " ".join(_ARTICLES.sub(" ", text).split())


def _is_punctuation(ch: str) -> bool:
    return unicodedata.category(ch).startswith("P")


def contains_gold(text: str, gold: Iterable[str]) -> bool:
    """Whether a normalised gold answer occurs in the normalised text as whole words ("india" is not in
    "indiana")."""
    return contains_normalized(normalize(text), [normalize(g) for g in gold])


def contains_normalized(text: str, golds: Iterable[str]) -> bool:
    padded = f" {text} "
    return any(g and f" {g} " in padded for g in golds)


def states_answer(text: str, golds: list[str], question: str) -> bool:
    """Whether a sentence of ``text`` holds a (normalised) gold answer and shares at least ``STATED_TERMS`` of
    the question's key terms (all of them when it has fewer)."""
    terms = stemmed_terms(question)
    needed = min(STATED_TERMS, len(terms))
    sentences = (text[start:end] for start, end in sentence_spans(text))
    holding = [sentence for sentence in sentences if contains_normalized(normalize(sentence), golds)]
    return any(len(terms & words) >= needed for words in stemmed_words(holding))


def citations_valid(answer: Answer, store: Store) -> tuple[int, int]:
    """(valid, total) citations: the quote is the stored article's text at its offsets, and the answer's
    markers all name a citation."""
    numbers = {c.n for c in answer.citations}
    markers_ok = all(int(n) in numbers for n in _MARKER.findall(answer.text))
    valid = 0
    for citation in answer.citations:
        article = store.article(citation.article_id)
        if markers_ok and article is not None and article.text[citation.start : citation.end] == citation.quote:
            valid += 1
    return valid, len(answer.citations)


def first_words_control(passages: list[Passage], words: int) -> Answer:
    """The trivial control the answerer has to beat: the first ``words`` words of the top passage."""
    if not passages:
        return Answer(text="", abstained=True, citations=[])
    return Answer(text=" ".join(passages[0].text.split()[:words]), abstained=False, citations=[])


def load_own_questions(path: Path) -> list[EvalQuestion]:
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            item = json.loads(line)
            gold = item.get("answers") or [item["answer"]]
            number_id = str(item.get("id", f"{path.name}:{number}"))
            questions.append(EvalQuestion(number_id, item["question"], tuple(gold), as_of=item.get("as_of")))
    return questions


def load_realtimeqa(path: Path, corpus: Path | None = None) -> list[EvalQuestion]:
    """Questions of a ``_qa.jsonl`` file; with its ``_gcs.jsonl`` corpus, each is scoped to the articles its
    own web search returned (the benchmark's protocol)."""
    keys = _search_result_keys(corpus) if corpus else {}
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            gold = item["choices"][int(item["answer"][0])]
            scope = keys.get(item["question_id"]) if corpus else None
            as_of = item["question_date"].replace("/", "-") if item.get("question_date") else None
            question = html_fragment_text(item["question_sentence"])  # some carry their quiz page's HTML links
            questions.append(EvalQuestion(item["question_id"], question, (gold,), scope, as_of))
    return questions


def _search_result_keys(corpus: Path) -> dict[str, tuple[str, ...]]:
    keys = {}
    for line in corpus.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            found = []
            for result in item.get("search_result") or []:
                try:
                    found.append(article_from_record(result, origin=str(corpus), source="web").key)
                except InputError:
                    continue
            keys[item["question_id"]] = tuple(found)
    return keys


def scope_filter(store: Store, keys: tuple[str, ...] | None) -> Filters | None:
    """Filters restricting retrieval to the stored articles with these identity keys (aliases followed)."""
    if keys is None:
        return None
    return Filters(article_ids=frozenset(filter(None, map(store.resolve, keys))))


def realtimeqa_corpus(path: Path) -> Path | None:
    """The ``_gcs.jsonl`` articles file beside a RealTimeQA ``_qa.jsonl`` questions file, if any."""
    if not path.name.endswith("_qa.jsonl"):
        return None
    corpus = path.with_name(path.name.removesuffix("_qa.jsonl") + "_gcs.jsonl")
    return corpus if corpus.exists() else None


@dataclass(frozen=True)
class _Truth:
    """What a question's answers are scored against."""

    golds: list[str]
    answerable: bool
    stated: bool
    unanswerable_with_articles: bool


@dataclass(frozen=True)
class Asked:
    """A question ``evaluate`` asked: its filters, its report row and what it is scored against."""

    question: EvalQuestion
    filters: Filters | None
    row: dict[str, Any]
    truth: _Truth


def evaluate(
    questions: list[EvalQuestion],
    store: Store,
    ask: Callable[..., tuple[Answer, list[Passage]]],
    report: EvalReport,
    *,
    baseline_words: int | None = None,
    alternatives: Mapping[str, Callable[..., Answer]] | None = None,
    llm: bool = False,
) -> list[Asked]:
    """Ask every question against ``store`` (``ask`` is ``QA.ask``; ``alternatives``, other answerers scored on
    the same passages: the offline answer beside an LLM's, the heuristic reader beside the trained one) and add
    the scores to ``report``; ``llm``: newsbot's answers are an LLM's, and what its checks did with each reply is
    counted. A question with an as-of day is asked as of then, and only articles visible that day count towards
    its being answerable. Returns what was asked, for ``score_naive``."""
    asked: list[Asked] = []
    stored = {a: store.article(a) for a in store.article_ids()}
    originals = {a: article.text for a, article in stored.items()}
    texts = {a: normalize(text) for a, text in originals.items()}
    for question in questions:
        golds = [normalize(g) for g in question.gold if normalize(g)]
        filters = scope_filter(store, question.keys)
        scope = texts if filters is None else {a: texts[a] for a in filters.article_ids or ()}
        if question.as_of:
            filters = replace(filters or Filters(), as_of=question.as_of)
            scope = {a: t for a, t in scope.items() if not stored[a].published or stored[a].published <= question.as_of}
        holding = [a for a, text in scope.items() if contains_normalized(text, golds)]
        answerable = bool(holding)
        stated = any(states_answer(originals[a], golds, question.question) for a in holding)
        started = time.perf_counter()
        answer, passages = ask(question.question, filters=filters)
        latency = (time.perf_counter() - started) * 1000
        report.questions += 1
        report.answerable += answerable
        report.stated += stated
        unanswerable_with_articles = bool(scope) and not answerable
        report.unanswerable_with_articles += unanswerable_with_articles
        ranks = [i for i, p in enumerate(passages) if contains_normalized(normalize(p.text), golds)]
        for k in HIT_AT:
            report.hits[k] += answerable and bool(ranks) and ranks[0] < k
            report.hits_stated[k] += stated and bool(ranks) and ranks[0] < k
        outcomes = {"newsbot": (answer, latency)}
        if baseline_words:  # the control's only work is retrieval
            control = first_words_control(passages, baseline_words)
            outcomes["first-words control"] = (control, answer.timings.get("retrieve_ms", latency))
        for name, other in (alternatives or {}).items():
            started = time.perf_counter()
            other_answer = other(question.question, passages, answer.as_of)
            spent = answer.timings.get("retrieve_ms", 0.0) + (time.perf_counter() - started) * 1000
            outcomes[name] = (other_answer, spent)
        row: dict[str, Any] = {
            "id": question.id,
            "question": question.question,
            "as_of": question.as_of,
            "gold": list(question.gold),
            "answerable": answerable,
            "stated": stated,
            "first_hit_rank": ranks[0] + 1 if ranks else None,
        }
        truth = _Truth(golds, answerable, stated, unanswerable_with_articles)
        for name, (result, spent) in outcomes.items():
            _score(report, row, name, result, spent, truth, store)
        if llm and (checked := reply_outcome(answer)):
            outcome, reasons = checked
            row["llm_reply"] = outcome
            report.llm_replies[outcome] = report.llm_replies.get(outcome, 0) + 1
            for reason in dict.fromkeys(reasons):
                report.llm_reasons[reason] = report.llm_reasons.get(reason, 0) + 1
        report.rows.append(row)
        asked.append(Asked(question, filters, row, truth))
    return asked


def score_naive(
    asked: list[Asked], naive: Callable[[str, Filters | None], Answer], report: EvalReport, store: Store
) -> None:
    """Ask the naive LLM pipeline (``QA.naive_llm``) the questions ``evaluate`` asked and score its answers. Run
    it after newsbot has answered every question of every file: its prompts would evict newsbot's system prompt
    from a local server's prompt cache, which a bot asking one model all day keeps."""
    for item in asked:
        started = time.perf_counter()
        result = naive(item.question.question, item.filters)
        spent = (time.perf_counter() - started) * 1000
        _score(report, item.row, "naive LLM", result, spent, item.truth, store)


def _score(
    report: EvalReport, row: dict[str, Any], name: str, result: Answer, spent: float, truth: _Truth, store: Store
) -> None:
    """Add one method's answer to its scores and to the question's row."""
    score = report.methods.setdefault(name, MethodScore())
    hit = contains_normalized(normalize(result.text), truth.golds)
    score.contains += hit
    score.contains_answerable += hit and truth.answerable
    score.contains_stated += hit and truth.stated
    score.abstained += result.abstained
    score.abstained_answerable += result.abstained and truth.answerable
    score.abstained_unanswerable += result.abstained and truth.unanswerable_with_articles
    valid, total = citations_valid(result, store)
    score.citations_valid += valid
    score.citations += total
    score.latencies_ms.append(spent)
    if "first_words_ms" in result.timings:
        score.first_words_ms.append(result.timings["first_words_ms"])
    row[name] = {
        "text": result.text,
        "contains_gold": hit,
        "abstained": result.abstained,
        "notes": result.notes,
        "ms": round(spent, 1),  # its latency, as the method's median counts it
    }


def week_config(config: Settings, work_dir: Path, corpus: Path) -> Settings:
    """The configuration of the store that holds one RealTimeQA week's articles."""
    week = corpus.name.removesuffix("_gcs.jsonl")
    chroma = config.store.chroma.model_copy(update={"collection": f"eval-{week}"})
    return config.model_copy(
        update={"store": config.store.model_copy(update={"path": work_dir / week, "chroma": chroma})}
    )
