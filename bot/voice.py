"""Voice questions: a Telegram voice note or audio file, downloaded and transcribed (newsbot.speech), becomes the
question's text. Every refusal is a sentence for the sender naming the problem."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from telegram import Bot, Message

from newsbot.bot.render import text_html
from newsbot.settings import Settings
from newsbot.speech import SpeechError, SpeechUnavailable, Transcriber, names_in, transcriber

logger = logging.getLogger(__name__)

UNAVAILABLE = "Sorry, voice questions are not available on this bot. Please type your question."
MAX_DOWNLOAD = 20_000_000  # bytes: the most the Bot API lets a bot download


class VoiceRefused(Exception):
    """The recording was not transcribed; the message is the reply (Telegram HTML)."""


class VoiceQuestions:
    """Turns voice notes and audio files into question text with the configured transcriber (made on first use,
    so a bot without the voice extra starts and answers text as before). ``titles(n)`` gives the newest n
    article titles, whose names the transcriber is told to expect."""

    def __init__(self, config: Settings, titles: Callable[[int], Sequence[str]]) -> None:
        self.config = config
        self.titles = titles
        self._transcriber: Transcriber | None = None

    async def transcript(self, message: Message, bot: Bot) -> str:
        """What the sender said; raises VoiceRefused with the reply when it cannot be had."""
        recording = message.voice or message.audio
        if recording is None:
            raise VoiceRefused("That message holds no recording.")
        try:
            transcribe = self._transcribe()
        except SpeechUnavailable as exc:  # why is for the operator's log, not for the chat
            logger.warning("a voice question was refused: %s", exc)
            raise VoiceRefused(UNAVAILABLE) from None
        seconds = int(recording.to_dict().get("duration") or 0)  # to_dict: seconds, without PTB's deprecation
        limit = self.config.voice.max_seconds
        if seconds > limit:
            raise VoiceRefused(f"That recording is {seconds} s long; I take voice questions of up to {limit} s.")
        if (recording.file_size or 0) > MAX_DOWNLOAD:
            raise VoiceRefused("That recording is too large for me to download (more than 20 MB).")
        audio = bytes(await (await bot.get_file(recording.file_id)).download_as_bytearray())
        try:
            heard = await asyncio.to_thread(self._heard, transcribe, audio)
        except SpeechError as exc:
            raise VoiceRefused(f"Sorry, I could not hear a question: {text_html(str(exc))}.") from None
        if not heard:
            raise VoiceRefused("Sorry, I could not hear a question: no words were recognised in the recording.")
        return heard

    def _heard(self, transcribe: Callable[[bytes, Sequence[str]], str], audio: bytes) -> str:
        limit = self.config.voice.hints
        return transcribe(audio, names_in(self.titles(limit), limit) if limit else ())

    def _transcribe(self) -> Callable[[bytes, Sequence[str]], str]:
        if self._transcriber is None:
            self._transcriber = transcriber(self.config)
        return self._transcriber.transcribe
