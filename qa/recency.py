"""A sense of time: the day a question is asked as of, whether it asks about the present, and how much a
report's age counts against it then.

News questions about "this week" want this week's report: web search (and a long-lived store) hands the
answerer reports years old beside current ones, and the old ones often state a similar fact about an earlier
event. For questions about the present, a sentence's score loses up to ``recency_weight`` as its article ages
(half of that at ``recency_half_life`` days); an undated article counts as of unknown age, half the weight.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

_PRESENT = re.compile(
    r"\b(?:this (?:week|weekend|month|year|season|spring|summer|autumn|fall|winter)|recent(?:ly)?|new(?:ly)?|now|"
    r"current(?:ly)?|latest|today|tonight|so far|ongoing|upcoming|just|announced|unveiled|launched)\b",
    re.IGNORECASE,
)


def today() -> str:
    """Today's date (UTC), the default as-of moment."""
    return datetime.now(UTC).date().isoformat()


def asks_about_present(question: str) -> bool:
    """Whether the question is about what is happening now ("this week", "recently", "new", "latest" ...)."""
    return bool(_PRESENT.search(question))


def age_days(published: str | None, as_of: str) -> int | None:
    """Days between a report's date and the as-of day; None when the report is undated."""
    if not published:
        return None
    return max(0, (date.fromisoformat(as_of[:10]) - date.fromisoformat(published[:10])).days)


def staleness(published: str | None, as_of: str, half_life: float) -> float:
    """0 for a report of the as-of day, rising towards 1 as it ages (0.5 at ``half_life`` days); 0.5 undated."""
    age = age_days(published, as_of)
    return 0.5 if age is None else 1.0 - 0.5 ** (age / half_life)


def month_year(iso: str) -> str:
    day = date.fromisoformat(iso[:10])
    return f"{day:%B %Y}"
