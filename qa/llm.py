"""The LLM answerer: any chat model LangChain can build (an OpenAI-compatible endpoint such as OpenAI, Ollama,
vLLM or llama.cpp's server, or another provider's integration package), checked.

The model sees the retrieved passages fenced as data and must cite them as [n]. Its reply is never trusted
as is: every [n] must name a passage that was given, every cited sentence must be supported by its passage
(shared key terms, or embedding similarity to one of the passage's sentences), and uncited sentences are
dropped. What is removed is listed in the answer's notes. Errors, timeouts and unusable replies fall back to
the offline answerer, with a note, never an exception.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from langchain.chat_models import init_chat_model
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from newsbot.corpus.store import Store
from newsbot.qa.extractive import ExtractiveAnswerer, abstain
from newsbot.qa.prompts import (
    ANSWER_SYSTEM,
    NAIVE_SYSTEM,
    NOT_ANSWERED,
    REWRITE_SYSTEM,
    answer_user_message,
    naive_user_message,
    rewrite_user_message,
)
from newsbot.records import Answer, Citation, Passage, citation_for
from newsbot.sentences import sentence_spans
from newsbot.settings import LlmSettings, SettingsError
from newsbot.text import stemmed_terms, stemmed_words

OPENAI_HOST = "api.openai.com"
_MARKER = re.compile(r"\s*\[(\d+)\]")
LEXICAL_SUPPORT = 0.5
EMBEDDING_SUPPORT = 0.7


@dataclass(frozen=True)
class Support:
    passage: Passage
    start: int
    end: int


def token_limit(config: LlmSettings) -> dict[str, Any]:
    """OpenAI itself takes ``max_completion_tokens`` (the name ChatOpenAI sends); local servers such as
    llama-cpp-python's ignore it and take ``max_tokens``, and, unbounded, a small model talks until its context
    is full, holding the server long after our timeout. Other endpoints get ``max_tokens`` instead."""
    if not config.base_url or urlsplit(config.base_url).hostname == OPENAI_HOST:
        return {"max_completion_tokens": config.max_tokens}
    return {"extra_body": {"max_tokens": config.max_tokens}}


def chat_model(config: LlmSettings) -> BaseChatModel:
    """The configured model, built by LangChain's ``init_chat_model`` from ``llm.provider``. ``openai`` is any
    OpenAI-compatible endpoint and gets every option; other providers get the model, temperature and base URL,
    the options every LangChain chat integration takes. A provider LangChain does not know, or whose
    integration package is missing, is a configuration error naming the key."""
    options: dict[str, Any] = {"temperature": config.temperature}
    if config.provider == "openai":
        options |= {
            "base_url": config.base_url or None,
            "api_key": os.environ.get("OPENAI_API_KEY") or "not-needed",  # local servers ignore it
            "timeout": config.timeout,
            "max_retries": 0,
            **token_limit(config),
        }
    elif config.base_url:
        options["base_url"] = config.base_url
    try:
        return init_chat_model(config.model, model_provider=config.provider, **options)
    except (ImportError, ValueError) as exc:
        raise SettingsError(f"llm.provider {config.provider!r} with llm.model {config.model!r}: {exc}") from None


class LlmAnswerer:
    def __init__(self, store: Store, config: LlmSettings, fallback: ExtractiveAnswerer) -> None:
        self.store = store
        self.fallback = fallback
        self.config = config
        self.model = chat_model(config)

    def rewrite(self, question: str, history: list[dict[str, str]], fallback: str) -> str:
        """A standalone query from the conversation; the deterministic rewrite when the LLM fails."""
        try:
            reply = self._complete(REWRITE_SYSTEM, rewrite_user_message(question, history))
        except Exception:
            return fallback
        return reply.strip().splitlines()[0].strip() if reply.strip() else fallback

    def answer(self, question: str, passages: list[Passage], as_of: str | None = None) -> Answer:
        if not passages:
            return self.fallback.answer(question, passages, as_of)
        try:
            reply = self._complete(ANSWER_SYSTEM, answer_user_message(question, passages))
        except Exception as exc:
            reason = " ".join(str(exc).split())[:160]
            return self._offline(
                question, passages, as_of, f"LLM unavailable ({type(exc).__name__}: {reason}); answered offline"
            )
        if not reply.strip():
            return self._offline(question, passages, as_of, "LLM reply was empty; answered offline")
        if NOT_ANSWERED in reply:
            answer = abstain(self.fallback.rank(question, passages, as_of))
            answer.reader = self.fallback.version
            answer.notes.append("the LLM found no answer in the passages")
            return answer
        return self._checked(question, reply, passages, as_of)

    def naive(self, question: str, passages: list[Passage]) -> Answer:
        """The model's reply as is, from a plain prompt: the naive pipeline eval compares newsbot with. No
        citations, no checks; a failure is an empty answer."""
        try:
            reply = self._complete(NAIVE_SYSTEM, naive_user_message(question, passages))
        except Exception as exc:
            return Answer(text="", abstained=True, citations=[], notes=[f"LLM unavailable ({type(exc).__name__})"])
        return Answer(text=reply.strip(), abstained=False, citations=[])

    def _complete(self, system: str, user: str) -> str:
        message = self.model.invoke([SystemMessage(system), HumanMessage(user)])
        if not isinstance(message.content, str):
            raise TypeError("reply content is not text")
        return message.content

    def _offline(self, question: str, passages: list[Passage], as_of: str | None, note: str) -> Answer:
        answer = self.fallback.answer(question, passages, as_of)
        answer.notes.append(note)
        return answer

    def _checked(self, question: str, reply: str, passages: list[Passage], as_of: str | None) -> Answer:
        notes: list[str] = []
        kept: list[str] = []
        citations: list[Citation] = []
        numbering: dict[tuple[str, int, int], int] = {}
        for start, end in sentence_spans(reply):
            sentence = reply[start:end]
            claim = _MARKER.sub("", sentence).strip()
            markers = [int(n) for n in _MARKER.findall(sentence)]
            if not markers:
                notes.append(f"removed an uncited claim: {claim!r}")
                continue
            refs = []
            for n in dict.fromkeys(markers):
                if not 1 <= n <= len(passages):
                    notes.append(f"removed citation [{n}]: no such passage was given")
                    continue
                support = self._support(claim, passages[n - 1])
                if support is None:
                    notes.append(f"removed citation [{n}]: passage {n} does not support {claim!r}")
                    continue
                key = (support.passage.chunk_id, support.start, support.end)
                if key not in numbering:
                    numbering[key] = len(citations) + 1
                    citations.append(citation_for(numbering[key], support.passage, support.start, support.end))
                refs.append(numbering[key])
            if refs:
                body = claim.rstrip().rstrip(".!?")
                kept.append(f"{body} {''.join(f'[{r}]' for r in refs)}{claim.rstrip()[len(body) :]}")
            else:
                notes.append(f"removed a claim with no supported citation: {claim!r}")
        if not kept:
            return self._offline(
                question, passages, as_of, "no claim of the LLM's reply was supported; answered offline"
            )
        reader = f"llm:{self.config.model or self.config.provider}"
        return Answer(text=" ".join(kept), abstained=False, citations=citations, notes=notes, reader=reader)

    def _support(self, claim: str, passage: Passage) -> Support | None:
        """The passage sentence that best supports ``claim``, if any does."""
        spans = sentence_spans(passage.text) or [(0, len(passage.text))]
        sentences = [passage.text[s:e] for s, e in spans]
        claim_terms = stemmed_terms(claim)
        if not claim_terms:
            return None
        *sentence_words, passage_words = stemmed_words([*sentences, passage.text])
        coverage = [len(claim_terms & words) / len(claim_terms) for words in sentence_words]
        best = max(range(len(sentences)), key=coverage.__getitem__)
        whole = len(claim_terms & passage_words) / len(claim_terms)
        if whole < LEXICAL_SUPPORT:
            vectors = self.store.encode([claim, *sentences])
            similarity = vectors[1:] @ vectors[0]
            best = int(similarity.argmax())
            if float(similarity[best]) < EMBEDDING_SUPPORT:
                return None
        start, end = spans[best]
        return Support(passage, passage.start + start, passage.start + end)
