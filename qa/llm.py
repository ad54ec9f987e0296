"""The LLM answerer: any chat model LangChain can build (an OpenAI-compatible endpoint such as OpenAI, Ollama,
vLLM or llama.cpp's server, or another provider's integration package), checked.

The model is given the offline ranking's best sentences, numbered (qa/evidence.py), with the day the question
is asked as of and which report is newest, and replies ``{"answer": ..., "sentences": [n, ...]}`` (asked for
with ``response_format`` where the server takes it; plain text whose sentences end in ``[n]`` is read too). Its
reply streams in, and is never trusted as is: every number must name a sentence it was given, every claim must
be supported by the sentences it cites (most of its key terms, and the terms it adds to the question, are
theirs, or it is a close paraphrase; its numbers appear in them), never by another sentence found for it (that
let wrong answers through: "Stockholm" for where the Peace Prize is awarded, its cited sentence saying Norway);
uncited claims are dropped; a question about the present is not answered from
old reports alone when a newer one was given. Citations are the cited sentences' exact article offsets, and the
answer's text shows them under the model's words, so the claim and its evidence are read together. What is
removed is listed in the answer's notes. Errors, timeouts, a stream cut off and unusable replies fall back to
the offline answerer, with a note, never an exception.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from langchain.chat_models import init_chat_model
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from newsbot.corpus.store import Store
from newsbot.qa.evidence import Numbered, evidence
from newsbot.qa.extractive import Candidate, ExtractiveAnswerer, abstain, is_statement, quote_line
from newsbot.qa.prompts import (
    ANSWER_SCHEMA,
    ANSWER_SYSTEM,
    NAIVE_SYSTEM,
    NOT_ANSWERED,
    REWRITE_SYSTEM,
    evidence_message,
    naive_user_message,
    rewrite_user_message,
)
from newsbot.qa.recency import age_days, time_focus
from newsbot.qa.reply import MARKER, Claim, answer_so_far, claims
from newsbot.records import Answer, Citation, Passage, citation_for
from newsbot.settings import LlmSettings, SettingsError
from newsbot.text import stemmed_terms, stemmed_words

OPENAI_HOST = "api.openai.com"
LEXICAL_SUPPORT = 0.5  # share of a claim's key terms, and of those it adds to the question, its sentences hold
SHORT_CLAIM = 3  # key terms added to the question up to which its sentences must hold every one
EMBEDDING_SUPPORT = 0.7  # or its cosine similarity to one of them (a paraphrase)
FORMATS = ("json_schema", "json_object", "text")
REFUSED = (400, 422)  # how servers refuse a request field they do not take
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_PARTIAL_MARKER = re.compile(r"\s*\[\d*$")
_NUMBER_WORDS = {
    word: str(value)
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
}
_NUMBER_WORD = re.compile(rf"\b(?:{'|'.join(_NUMBER_WORDS)})\b", re.IGNORECASE)
_ABBREVIATION = re.compile(r"\b(?:[A-Za-z]\.){2,}")
OnText = Callable[[str], None]
OFFLINE = "answered offline"
LLM_READER = "llm:"  # an answer's reader when the model's reply was kept: llm:<model>
NO_ANSWER = "the LLM found no answer in the passages"
# What each note says went wrong, for eval's count of the reasons replies were trimmed or refused.
REASONS = {
    "LLM unavailable": "unavailable",
    "LLM reply was empty": "empty reply",
    "LLM reply was malformed": "malformed reply",
    "removed an uncited claim": "uncited claim",
    "no such sentence was given": "cited a sentence not given",
    "is a question or a heading": "cited a question or a heading",
    "do not support": "claim not supported by its sentences",
    "does not support it": "a cited sentence does not support it",
    "older than": "cites only old reports though a newer one was given",
}


class CutOff(RuntimeError):
    """The reply stopped arriving before the server said it was complete."""


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
        # Only OpenAI-compatible endpoints take response_format; a refusal moves on to the next way, for good.
        self.format = config.response_format if config.provider == "openai" else "text"

    def rewrite(self, question: str, history: list[dict[str, str]], fallback: str) -> str:
        """A standalone query from the conversation; the deterministic rewrite when the LLM fails."""
        try:
            reply = self._complete(REWRITE_SYSTEM, rewrite_user_message(question, history))
        except Exception:
            return fallback
        return reply.strip().splitlines()[0].strip() if reply.strip() else fallback

    def answer(
        self, question: str, ranked: list[Candidate], as_of: str | None = None, on_text: OnText | None = None
    ) -> Answer:
        """The checked answer from the offline answerer's ranked candidates (its ``rank``); ``on_text`` gets the
        unchecked answer so far each time more of it arrives."""
        started = time.perf_counter()
        given = evidence(ranked, self.config.sentences, self.config.context)
        if not given:
            return self.fallback.answer_ranked(question, ranked, as_of)
        messages = [SystemMessage(ANSWER_SYSTEM), HumanMessage(evidence_message(question, given, as_of))]
        timings: dict[str, float] = {}
        try:
            reply = self._stream(messages, on_text, started, timings)
        except Exception as exc:
            reason = " ".join(str(exc).split())[:160]
            return self._offline(
                question, ranked, as_of, f"LLM unavailable ({type(exc).__name__}: {reason}); {OFFLINE}"
            )
        if not reply.strip():
            return self._offline(question, ranked, as_of, f"LLM reply was empty; {OFFLINE}")
        if NOT_ANSWERED in reply:
            answer = abstain(ranked)
            answer.reader = self.fallback.version
            answer.notes.append(NO_ANSWER)
        else:
            answer = self._checked(question, reply, given, ranked, as_of)
        answer.timings |= timings
        return answer

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

    def _stream(
        self, messages: list[BaseMessage], on_text: OnText | None, started: float, timings: dict[str, float]
    ) -> str:
        """The whole reply, streamed; asked for as JSON the way ``self.format`` says, and the next way when the
        server refuses that. ``timings`` gets ``first_words_ms`` (the first answer text, from ``started``) and
        ``llm_ms`` (the request that answered, whole)."""
        while True:
            requested = time.perf_counter()
            try:
                reply = self._stream_once(messages, on_text, started, timings)
            except Exception as exc:
                if self.format == "text" or not _refuses_format(exc):
                    raise
                self.format = FORMATS[FORMATS.index(self.format) + 1]
                continue
            timings["llm_ms"] = round((time.perf_counter() - requested) * 1000, 1)
            return reply

    def _stream_once(
        self, messages: list[BaseMessage], on_text: OnText | None, started: float, timings: dict[str, float]
    ) -> str:
        reply, shown, finished = "", "", False
        requested = time.perf_counter()
        for chunk in self.model.stream(messages, **self._format_options()):
            if not isinstance(chunk.content, str):
                raise TypeError("reply content is not text")
            reply += chunk.content
            finished = finished or bool(chunk.response_metadata.get("finish_reason"))
            if time.perf_counter() - requested > self.config.timeout:
                raise TimeoutError(f"the reply took longer than llm.timeout ({self.config.timeout:g} s)")
            text = _PARTIAL_MARKER.sub("", MARKER.sub("", answer_so_far(reply))).strip()
            if text and text != shown:
                timings.setdefault("first_words_ms", round((time.perf_counter() - started) * 1000, 1))
                shown = text
                if on_text is not None:
                    on_text(text)
        if not finished and self.config.provider == "openai":
            raise CutOff("the reply stopped before the server finished it")
        return reply

    def _format_options(self) -> dict[str, Any]:
        """``response_format`` rides in ``extra_body`` (LangChain would switch streams to OpenAI's beta parser),
        beside ``max_tokens`` where the token limit goes there too."""
        if self.format == "text":
            return {}
        if self.format == "json_schema":
            schema = {"name": "cited_answer", "strict": True, "schema": ANSWER_SCHEMA}
            response_format: dict[str, Any] = {"type": "json_schema", "json_schema": schema}
        else:
            response_format = {"type": "json_object", "schema": ANSWER_SCHEMA}
        return {"extra_body": {**token_limit(self.config).get("extra_body", {}), "response_format": response_format}}

    def _offline(self, question: str, ranked: list[Candidate], as_of: str | None, *notes: str) -> Answer:
        answer = self.fallback.answer_ranked(question, ranked, as_of)
        answer.notes.extend(notes)
        return answer

    def _checked(
        self, question: str, reply: str, given: list[Numbered], ranked: list[Candidate], as_of: str | None
    ) -> Answer:
        try:
            found = claims(reply)
        except ValueError as exc:
            return self._offline(question, ranked, as_of, f"LLM reply was malformed ({exc}); {OFFLINE}")
        notes: list[str] = []
        kept: list[str] = []
        citations: list[Citation] = []
        numbering: dict[int, int] = {}  # given sentence -> citation number
        for claim in found:
            supporting = self._supporting(question, claim, given, notes)
            if not supporting:
                continue
            for s in supporting:
                if s.n not in numbering:
                    numbering[s.n] = len(citations) + 1
                    citations.append(citation_for(numbering[s.n], s.passage, s.start, s.end))
            refs = "".join(f"[{numbering[s.n]}]" for s in supporting)
            body = claim.text.rstrip().rstrip(".!?")
            kept.append(f"{body} {refs}{claim.text.rstrip()[len(body) :]}")
        if not kept:  # what was removed, and why, stays in the notes
            notes.append(f"no claim of the LLM's reply was supported; {OFFLINE}")
            return self._offline(question, ranked, as_of, *notes)
        if (outdated := self._outdated(question, citations, given, as_of)) is not None:
            return self._offline(question, ranked, as_of, *notes, f"{outdated}; {OFFLINE}")
        reader = f"{LLM_READER}{self.config.model or self.config.provider}"
        text = "\n\n".join([" ".join(kept), "\n".join(map(quote_line, citations))])
        return Answer(text=text, abstained=False, citations=citations, notes=notes, reader=reader)

    def _outdated(
        self, question: str, citations: list[Citation], given: list[Numbered], as_of: str | None
    ) -> str | None:
        """Why a reply is not current, if it is not: a question about the present answered only from reports
        older than ``answer.stale_after`` days although a newer report was given. A small model often takes an
        old story's answer to a similar question over this week's (a 2016 BMW announcement for "which automaker
        faces a new investigation?", beside a 2025 report of a Tesla probe); the offline ranking weighs age."""
        focus = time_focus(question, as_of, self.fallback.config.recency_half_life)
        if not as_of or focus is None or not focus.present:
            return None
        stale = self.fallback.config.stale_after
        ages = [age_days(c.published, as_of) for c in citations]
        if any(age is None or age <= stale for age in ages):
            return None
        if not any((age := age_days(s.passage.published, as_of)) is not None and age <= stale for s in given):
            return None
        return f"the reply cites only reports older than {stale} days, though a newer one was given"

    def _supporting(self, question: str, claim: Claim, given: list[Numbered], notes: list[str]) -> list[Numbered]:
        """The given sentences the claim cites that support it (none when it is unsupported), noting why."""
        if not claim.cited:
            notes.append(f"removed an uncited claim: {claim.text!r}")
            return []
        cited = []
        for n in claim.cited:
            if not 1 <= n <= len(given):
                notes.append(f"removed citation [{n}]: no such sentence was given")
            elif not is_statement(given[n - 1].text):  # given for context, but a question states nothing
                notes.append(f"removed citation [{n}]: sentence {n} is a question or a heading")
            else:
                cited.append(given[n - 1])
        terms = _key_terms(claim.text)
        if cited and terms:
            words = _words([s.text for s in cited])
            relevant = [s for s, w in zip(cited, words, strict=True) if terms & w]
            for sentence in cited:
                if sentence not in relevant:
                    notes.append(f"removed citation [{sentence.n}]: sentence {sentence.n} does not support it")
            if relevant and self._supports(question, claim.text, terms, relevant):
                return relevant
        cites = "".join(f"[{n}]" for n in claim.cited)
        notes.append(f"removed a claim its sentences do not support: {claim.text!r} {cites}")
        return []

    def _supports(self, question: str, claim: str, terms: set[str], sentences: Sequence[Numbered]) -> bool:
        """Whether ``sentences`` state ``claim``: every number of it is theirs, and the terms it adds to the
        question are theirs (all of them for a short answer, a name like "New York" that "New Jersey" does not
        state; most of them for a longer claim), and so are most of its key terms, or it paraphrases one of
        them closely."""
        text = " ".join(s.text for s in sentences)
        if not {_digits(n) for n in _NUMBER.findall(claim)} <= _numbers(text):
            return False
        (held,) = _words([text])
        added = {t for t in terms - _key_terms(question) if not t[0].isdigit()}  # numbers: checked above
        needed = len(added) if len(added) <= SHORT_CLAIM else LEXICAL_SUPPORT * len(added)
        if len(added & held) < needed:
            return False
        if len(terms & held) / len(terms) >= LEXICAL_SUPPORT:
            return True
        vectors = self.store.encode([claim, *(s.text for s in sentences)])
        return float((vectors[1:] @ vectors[0]).max()) >= EMBEDDING_SUPPORT


def _refuses_format(exc: Exception) -> bool:
    """Whether the server refused the request's ``response_format``: 400 or 422, or any error status whose
    message names it (llama-cpp-python answers 500 to a ``json_schema`` it cannot validate)."""
    status = getattr(exc, "status_code", None)
    return status in REFUSED or (status is not None and "response_format" in str(exc))


def _digits(number: str) -> str:
    return number.replace(",", "")


def _numbers(text: str) -> set[str]:
    """The numbers a text states, in digits: "a five-year ban" states 5."""
    spelled = {_NUMBER_WORDS[word.lower()] for word in _NUMBER_WORD.findall(text)}
    return {_digits(n) for n in _NUMBER.findall(text)} | spelled


def _key_terms(text: str) -> set[str]:
    """The text's stemmed key terms, as the checks compare them (``_undotted``)."""
    return stemmed_terms(_undotted(text))


def _words(texts: Sequence[str]) -> list[set[str]]:
    """Each text's stemmed words, as the checks compare them (``_undotted``), and its numbers in digits: "Ten
    men escaped" holds the claim "10"."""
    stemmed = stemmed_words([_undotted(text) for text in texts])
    return [words | _numbers(text) for words, text in zip(stemmed, texts, strict=True)]


def _undotted(text: str) -> str:
    """Dotted abbreviations as one word ("U.K." -> "UK"), so that "UK" is a term "the U.K." holds."""
    return _ABBREVIATION.sub(lambda found: found.group().replace(".", ""), text)


def reply_outcome(answer: Answer) -> tuple[str, list[str]] | None:
    """What the checks did with the LLM's reply behind ``answer``: ``accepted`` whole, ``trimmed``, ``refused``
    (the offline answer given) or ``no answer``, with the reasons its notes give; None when no model was asked."""
    reasons = [reason for note in answer.notes for key, reason in REASONS.items() if key in note]
    if any(note.endswith(OFFLINE) for note in answer.notes):
        return "refused", reasons
    if NO_ANSWER in answer.notes:
        return "no answer", reasons
    if not answer.reader.startswith(LLM_READER):
        return None
    return ("trimmed" if reasons else "accepted"), reasons
