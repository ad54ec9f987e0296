"""Before serving: make sure the Bot API is there and takes the token, with one clear line when it does not.

python-telegram-bot's own start-up retries log a traceback per try and end in another; a wrong token is a
configuration error that no retry fixes, and an unreachable API (a network not up yet at boot) is worth waiting
for, saying so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from telegram import Bot
from telegram.error import InvalidToken, NetworkError

from newsbot.settings import TelegramSettings

MAX_DELAY = 60.0


class BotStartError(Exception):
    """The bot cannot start; the message says why in one line."""


def reach_bot_api(token: str, settings: TelegramSettings, say: Callable[[str], None]) -> str:
    """The bot's username once the Bot API accepts ``token``; an unreachable API is retried with backoff for up
    to ``telegram.start_wait`` seconds, each wait told to ``say``."""
    delay, deadline = 1.0, time.monotonic() + settings.start_wait
    while True:
        try:
            return asyncio.run(_get_me(token, settings))
        except InvalidToken:
            raise BotStartError(
                "Telegram refused TELEGRAM_BOT_TOKEN (401 Unauthorized): check the token @BotFather gave you"
            ) from None
        except NetworkError as exc:
            if time.monotonic() + delay > deadline:
                raise BotStartError(
                    f"the Telegram Bot API at {settings.base_url} cannot be reached ({exc}); "
                    f"gave up after {settings.start_wait:g} s (telegram.start_wait)"
                ) from None
            say(f"waiting for the Telegram Bot API at {settings.base_url} ({exc}); trying again in {delay:g} s")
            time.sleep(delay)
            delay = min(delay * 2, MAX_DELAY)


class _RetryLoopWithoutTraceback(logging.Filter):
    """python-telegram-bot logs each failed start-up step with its traceback, then raises it, and newsbot then
    names it in one line: its own line stays, the traceback goes."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("telegram.ext") and record.getMessage().startswith("Network Retry Loop"):
            record.exc_info, record.exc_text = None, None
        return True


def quiet_retry_tracebacks() -> None:
    for handler in logging.getLogger().handlers:
        handler.addFilter(_RetryLoopWithoutTraceback())


async def _get_me(token: str, settings: TelegramSettings) -> str:
    async with Bot(token, base_url=settings.base_url, base_file_url=settings.base_file_url) as bot:
        return bot.username
