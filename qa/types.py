"""What retrieval returns and what an answer is: plain data every front end renders from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


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
