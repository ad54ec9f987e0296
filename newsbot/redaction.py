"""Secrets never reach output: every command's stdout and stderr, and every logging handler, pass through one
redactor that replaces the values of the secret environment variables.

Libraries put secrets in messages newsbot does not write: python-telegram-bot's ``InvalidToken`` holds the
token, an HTTP error can hold the URL it failed on (``/bot<token>/getMe``), a misbehaving LLM server can echo
the API key. Redacting where text leaves the process catches them all, including tracebacks.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable
from typing import TextIO
from urllib.parse import quote

MASK = "[redacted]"
SHORTEST = 6  # a value this short is no credential (and masking it would garble ordinary text)


class Redactor(logging.Filter):
    """Replaces the given secret values (and their URL-encoded forms) in text and in log records."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        stripped = [s.strip() for s in secrets]
        values = {v for s in stripped if len(s) >= SHORTEST for v in (s, quote(s, safe=""))}
        self.secrets = sorted(values, key=len, reverse=True)

    @classmethod
    def from_environment(cls, names: Iterable[str]) -> Redactor:
        return cls(os.environ.get(name, "") for name in names)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Redacts the formatted message, the traceback and the stack of ``record``."""
        record.msg, record.args = self.redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class RedactingStream:
    """A text stream that redacts what is written to it, line by line (a secret never spans a newline)."""

    def __init__(self, stream: TextIO, redactor: Redactor) -> None:
        self._stream = stream
        self._redactor = redactor
        self._pending = ""

    def write(self, text: str) -> int:
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()
        if lines:
            self._stream.write(self._redactor.redact("\n".join(lines) + "\n"))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._stream.write(self._redactor.redact(self._pending))
            self._pending = ""
        self._stream.flush()

    def __getattr__(self, name: str) -> object:  # fileno, isatty, encoding ... of the real stream
        return getattr(self._stream, name)


def redact_output(names: Iterable[str]) -> Redactor:
    """Route this process's stdout and stderr (prints, tracebacks, log lines to the console) through a redactor
    of the named variables' values; ``filter_handlers`` adds it to logging handlers that write elsewhere."""
    redactor = Redactor.from_environment(names)
    if redactor.secrets:
        if not isinstance(sys.stdout, RedactingStream):
            sys.stdout = RedactingStream(sys.stdout, redactor)  # type: ignore[assignment]
        if not isinstance(sys.stderr, RedactingStream):
            sys.stderr = RedactingStream(sys.stderr, redactor)  # type: ignore[assignment]
    return redactor


def filter_handlers(redactor: Redactor) -> None:
    """Put the redactor on every handler of the root logger (records from child loggers skip its filters)."""
    for handler in logging.getLogger().handlers:
        if redactor not in handler.filters:
            handler.addFilter(redactor)
