"""Watched questions: asked again after new articles arrive; an alert when the answer now cites an article it
never cited before and that article passes the evidence floor on its own (asked over that article alone, the
answer does not abstain), so a weak further quote from an unrelated story raises nothing. At most one alert
per watch per check, none when nothing new is cited."""

from __future__ import annotations

from dataclasses import dataclass

from newsbot.corpus.registry import Watch
from newsbot.corpus.store import Store
from newsbot.qa.chain import QA
from newsbot.records import Answer, Citation, Filters


class WatchLimitError(ValueError):
    """A chat already watches as many questions as ``watch.max_questions_per_chat`` allows."""


@dataclass(frozen=True)
class Alert:
    watch: Watch
    answer: Answer
    new: list[Citation]  # the first citation of each article not cited before


def watch_question(store: Store, qa: QA, chat_id: int | None, question: str) -> Watch:
    """Watch ``question`` for a chat (None: the command line); what its answer cites now counts as seen."""
    cap = store.config.watch.max_questions_per_chat
    answer, _ = qa.ask(question)
    watch = store.add_watch(chat_id, question, cited_articles(answer), cap)
    if watch is None:
        raise WatchLimitError(f"already watching {cap} questions (watch.max_questions_per_chat); remove one first")
    return watch


def recheck(store: Store, qa: QA, watches: list[Watch]) -> list[Alert]:
    """Ask each watched question again; an Alert for each whose answer cites an article it never cited."""
    alerts = []
    for watch in watches:
        answer, _ = qa.ask(watch.question)
        firsts = {c.article_id: c for c in reversed(answer.citations)} if not answer.abstained else {}
        unseen = [c for article, c in firsts.items() if article not in watch.seen]
        if not unseen:
            continue
        store.set_seen(watch.id, watch.seen | firsts.keys())
        new = [c for c in unseen if _answers_alone(qa, watch.question, c.article_id)]
        if new:
            alerts.append(Alert(watch, answer, sorted(new, key=lambda c: c.n)))
    return alerts


def _answers_alone(qa: QA, question: str, article_id: str) -> bool:
    """Whether the article by itself passes the evidence floor (``answer.min_score``) for the question."""
    answer, _ = qa.ask(question, filters=Filters(article_ids=frozenset({article_id})))
    return not answer.abstained


def cited_articles(answer: Answer) -> set[str]:
    return set() if answer.abstained else {c.article_id for c in answer.citations}
