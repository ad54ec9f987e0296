"""An answer shown while an LLM writes it: a first message sent when its first words arrive, edited as more
arrive (at most once per ``interval``, within Telegram's limits), marked as unchecked; the final edit turns it
into the checked answer with its Sources button. The model's words are shown early because a small model on a
CPU takes seconds; the mark says they may still change, and the checked answer replaces them whole."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from telegram import InlineKeyboardMarkup, Message
from telegram.error import TelegramError

from newsbot.bot.render import text_html

logger = logging.getLogger(__name__)

EDIT_INTERVAL = 1.0  # seconds between edits of a draft
DRAFT_CHARS = 3000  # of the unchecked text shown (the checked answer is split into as many messages as it needs)
UNCHECKED = "<i>Unchecked draft: it is checked against the articles before it is final.</i>"
WITHDRAWN = "<i>This draft was withdrawn: it could not be checked.</i>"


async def reply_pieces(message: Message, pieces: Sequence[str], markup: InlineKeyboardMarkup | None) -> Message | None:
    """The pieces in reply to ``message``, ``markup`` on the last; the last message sent."""
    sent = None
    for index, piece in enumerate(pieces):
        sent = await message.reply_text(piece, reply_markup=markup if index == len(pieces) - 1 else None, do_quote=True)
    return sent


class LiveDraft:
    def __init__(self, question: Message, prefix: str = "", interval: float = EDIT_INTERVAL) -> None:
        """``question``: the message answered; ``prefix``: HTML put before the draft (what a voice note said)."""
        self.question = question
        self.prefix = prefix
        self.interval = interval
        self.draft: Message | None = None
        self._latest = ""
        self._closing = False
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        self._closed = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    def update(self, text: str) -> None:
        """The unchecked answer so far; called from the thread that answers."""
        self._latest = text
        self._loop.call_soon_threadsafe(self._changed.set)

    async def finish(self, pieces: Sequence[str], markup: InlineKeyboardMarkup | None) -> Message | None:
        """The checked answer: the draft edited into its first piece, the rest sent after it (``markup`` on the
        last); replies as usual when no draft was shown. The last message sent."""
        await self._close()
        if self.draft is None:
            return await reply_pieces(self.question, pieces, markup)
        edited = await self.draft.edit_text(pieces[0], reply_markup=markup if len(pieces) == 1 else None)
        first = edited if isinstance(edited, Message) else self.draft
        return await reply_pieces(self.question, pieces[1:], markup) or first

    async def withdraw(self) -> None:
        """No checked answer will come (answering failed): the draft, if shown, says so instead."""
        await self._close()
        if self.draft is not None:
            await self.draft.edit_text(self.prefix + WITHDRAWN)

    async def _close(self) -> None:
        self._closing = True
        self._changed.set()
        self._closed.set()
        await self._task

    async def _run(self) -> None:
        shown = ""
        while True:
            await self._changed.wait()
            self._changed.clear()
            if self._closing:
                return
            html = self._html(self._latest)
            if html != shown:
                await self._show(html)
                shown = html
            with contextlib.suppress(TimeoutError):  # the next edit waits, unless the answer is done first
                await asyncio.wait_for(self._closed.wait(), self.interval)

    async def _show(self, html: str) -> None:
        try:
            if self.draft is None:
                self.draft = await self.question.reply_text(html, do_quote=True)
            else:
                await self.draft.edit_text(html)
        except TelegramError as exc:  # a draft is a courtesy: the checked answer still comes
            logger.warning("draft not shown: %s", exc)

    def _html(self, text: str) -> str:
        cut = text if len(text) <= DRAFT_CHARS else text[:DRAFT_CHARS].rsplit(" ", 1)[0] + " …"
        return f"{self.prefix}{UNCHECKED}\n\n{text_html(cut)}"
