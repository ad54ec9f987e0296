"""Plain records shared by ingest, the store and the answerers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Article:
    """One stored article. ``id`` is derived from ``key`` (explicit id, url, or file path), so the same
    origin always maps to the same article and a changed text replaces the old one."""

    key: str
    text: str
    title: str
    source: str
    published: str | None = None
    url: str | None = None
    dateline: str | None = None
    origin: str = ""
    id: str = field(init=False)
    text_hash: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", article_id(self.key))
        object.__setattr__(self, "text_hash", text_hash(self.text))


@dataclass(frozen=True)
class Chunk:
    """A passage of an article: its text is exactly ``article.text[start:end]``."""

    id: str
    article_id: str
    seq: int
    start: int
    end: int
    text: str


def article_id(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def text_hash(text: str) -> str:
    """Hash of the text with whitespace normalised, so re-wrapped copies of one story compare equal."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()
