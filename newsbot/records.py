"""Plain records every layer shares: articles and chunks (ingest -> store), retrieval filters and passages
(store -> qa), answers and citations (qa -> surfaces). They import nothing of ours."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any


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


def chunk_id(article: str, text_hash: str, seq: int) -> str:
    """A chunk's id: its article's id (hex, no dash), the text's hash (a new text gets new chunks) and its place."""
    return f"{article}-{text_hash[:10]}-{seq}"


def article_of_chunk(chunk: str) -> str:
    """The article id a ``chunk_id`` starts with (no registry read needed)."""
    return chunk.rsplit("-", 2)[0]


def day_number(iso: str | None) -> int:
    """yyyymmdd of an ISO date (its first ten characters); 0 for none or one that is not a date (an undated
    chunk is day 0 in Chroma and Tantivy, visible as of any day)."""
    digits = (iso or "")[:10].replace("-", "")
    return int(digits) if len(digits) == 8 and digits.isdigit() else 0


def text_hash(text: str) -> str:
    """Hash of the text with whitespace normalised, so re-wrapped copies of one story compare equal."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Filters:
    """Restrict retrieval to a published date range (ISO dates, inclusive), one source, and/or given articles.
    ``as_of`` is the question's moment: articles published after it do not exist yet; undated ones stay."""

    since: str | None = None
    until: str | None = None
    source: str | None = None
    article_ids: frozenset[str] | None = None
    as_of: str | None = None


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its article's metadata; ``text == article.text[start:end]``."""

    chunk_id: str
    article_id: str
    start: int
    end: int
    text: str
    title: str
    source: str
    published: str | None
    url: str | None
    score: float = 0.0
    seq: int = 0  # the chunk's position in its article


@dataclass(frozen=True)
class Citation:
    """A checkable claim source: ``quote == article.text[start:end]`` of the stored article."""

    n: int
    article_id: str
    title: str
    source: str
    published: str | None
    url: str | None
    start: int
    end: int
    quote: str


@dataclass
class Answer:
    text: str
    abstained: bool
    citations: list[Citation]
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    query: str = ""
    as_of: str | None = None  # the day the question was asked as of (ISO date)
    reader: str = ""  # what chose the quotes: "heuristic", a trained reader's version, or the LLM's model

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def citation_for(n: int, passage: Passage, start: int, end: int) -> Citation:
    """A citation of article offsets ``start:end``, which lie inside ``passage``."""
    if not passage.start <= start < end <= passage.end:
        raise ValueError(f"span {start}-{end} is outside passage {passage.chunk_id} ({passage.start}-{passage.end})")
    return Citation(
        n=n,
        article_id=passage.article_id,
        title=passage.title,
        source=passage.source,
        published=passage.published,
        url=passage.url,
        start=start,
        end=end,
        quote=passage.text[start - passage.start : end - passage.start],
    )
