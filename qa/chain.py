"""The answering chain: ``{question, history}`` -> rewrite follow-ups -> hybrid retrieval -> read (rank the
passages' sentences, rerank the passages by them) -> answer.

Built from LangChain runnables (LCEL), so it composes with the rest of the LangChain ecosystem; ``QA.ask``
runs the same steps and also returns the retrieved passages (eval scores retrieval from them).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from langchain_core.runnables import Runnable, RunnableLambda

from newsbot.corpus.store import Store
from newsbot.qa.extractive import ExtractiveAnswerer, by_evidence
from newsbot.qa.llm import LlmAnswerer, OnText
from newsbot.qa.recency import age_days, month_year, today
from newsbot.qa.retrieval import HybridRetriever
from newsbot.records import Answer, Filters, Passage
from newsbot.settings import Settings
from newsbot.text import content_terms

NAIVE_K = 4  # chunks the naive pipeline stuffs into its prompt (LangChain's retriever default)
_FOLLOW_UP = re.compile(
    r"^\s*(and|but|also|so|what about|how about)\b|\b(it|its|they|them|their|he|she|him|her|his|this|that|these|"
    r"those|there|then)\b",
    re.IGNORECASE,
)


def rewrite_follow_up(question: str, history: Sequence[dict[str, str]]) -> str:
    """A self-contained retrieval query: a follow-up ("and who backs it?") borrows the key terms of the
    previous question it leans on. Questions that stand alone are kept as they are."""
    if not history or not _FOLLOW_UP.search(question):
        return question
    own = set(content_terms(question))
    borrowed = [t for t in content_terms(history[-1].get("question", "")) if t not in own]
    return f"{question} {' '.join(borrowed)}".strip()


class QA:
    def __init__(self, store: Store, config: Settings) -> None:
        self.store = store
        store.warm_up()
        self.retriever = HybridRetriever(
            store=store, settings=config.retrieval, recency_half_life=config.answer.recency_half_life
        )
        self.extractive = ExtractiveAnswerer(store, config.answer)
        self.llm = LlmAnswerer(store, config.llm, self.extractive) if config.llm.provider != "none" else None
        self.answerer: ExtractiveAnswerer | LlmAnswerer = self.llm or self.extractive
        self.stale_after = config.answer.stale_after
        self._prepare = (
            RunnableLambda(self._rewrite, name="rewrite")
            | RunnableLambda(self._retrieve, name="retrieve")
            | RunnableLambda(self._read, name="read")
        )

    def chain(self) -> Runnable[dict[str, Any], Answer]:
        """The LCEL form: ``{"question": str, "history": [{"question", "answer"}], "filters": Filters}`` -> Answer."""
        return self._prepare | RunnableLambda(self._answer, name="answer")

    def ask(
        self,
        question: str,
        history: Sequence[dict[str, str]] = (),
        filters: Filters | None = None,
        on_text: OnText | None = None,
    ) -> tuple[Answer, list[Passage]]:
        """The chain's steps, returning the retrieved passages (in the reader's order) beside the answer. With an
        LLM, ``on_text`` gets its unchecked answer so far as it streams in (the answer returned is the checked
        one)."""
        state = self._prepare.invoke({"question": question, "history": list(history), "filters": filters})
        return self._answer({**state, "on_text": on_text}), state["passages"]

    def naive_llm(self, question: str, filters: Filters | None = None) -> Answer:
        """The naive pipeline the issue measured, for eval's comparison: the nearest chunks by embedding alone,
        pasted into a plain prompt for the configured LLM, its reply unchecked."""
        if self.llm is None:
            raise ValueError("the naive LLM pipeline needs an llm.provider")
        return self.llm.naive(question, self.retriever.nearest(question, NAIVE_K, filters))

    def _rewrite(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """The retrieval query, and the filters with the question's as-of day (today unless given)."""
        started = time.perf_counter()
        history = inputs.get("history") or []
        query = rewrite_follow_up(inputs["question"], history)
        if self.llm is not None and query != inputs["question"]:
            query = self.llm.rewrite(inputs["question"], history, fallback=query)
        filters = inputs.get("filters") or Filters()
        filters = filters if filters.as_of else replace(filters, as_of=today())
        return {**inputs, "filters": filters, "started": started, "query": query}

    def _retrieve(self, state: dict[str, Any]) -> dict[str, Any]:
        passages = self.retriever.passages(state["query"], state.get("filters"))
        return {**state, "passages": passages, "retrieved": time.perf_counter()}

    def _read(self, state: dict[str, Any]) -> dict[str, Any]:
        """The passages' sentences ranked once for the answer (the trained reader's order), and the passages
        reordered by the best sentence each holds: the reader reranks retrieval."""
        ranked = self.extractive.rank(state["question"], state["passages"], state["filters"].as_of)
        passages = by_evidence(state["passages"], ranked)
        return {**state, "ranked": ranked, "passages": passages, "read": time.perf_counter()}

    def _answer(self, state: dict[str, Any]) -> Answer:
        as_of = state["filters"].as_of
        if self.llm is not None:
            answer = self.llm.answer(state["question"], state["ranked"], as_of, state.get("on_text"))
        else:
            answer = self.extractive.answer_ranked(state["question"], state["ranked"], as_of)
        answer.query = state["query"]
        answer.as_of = as_of
        newest = max((c.published for c in answer.citations if c.published), default=None)  # of what it quotes
        age = age_days(newest, as_of)
        if not answer.abstained and age is not None and age > self.stale_after:
            answer.notes.append(f"the newest stored report on this is from {month_year(newest)}")
        timings = answer.timings
        timings["retrieve_ms"] = round((state["retrieved"] - state["started"]) * 1000, 1)
        timings["answer_ms"] = round((time.perf_counter() - state["retrieved"]) * 1000, 1)  # reading included
        if "first_words_ms" in timings:  # from the question, like total_ms
            timings["first_words_ms"] = round(timings["first_words_ms"] + (state["read"] - state["started"]) * 1000, 1)
        answer.timings["total_ms"] = round((time.perf_counter() - state["started"]) * 1000, 1)
        return answer
