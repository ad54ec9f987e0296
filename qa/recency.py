"""A sense of time: the day a question is asked as of, the time it is about, and how far a report lies from it.

News questions about "this week" (or "on Monday": a weekday alone means the latest one) want this week's
report: web search (and a long-lived store) hands the answerer reports years old beside current ones, and the
old ones often state a similar fact about an earlier event. For questions about the present, a sentence's score
loses up to ``recency_weight`` as its article ages (half of that at ``recency_half_life`` days); an undated
article counts as of unknown age, half the weight. A question naming a past year or month ("in 2019", "in March
2019") is about then: reports from outside that period lose in the same way, by how far outside they lie (half
at ``PERIOD_HALF_LIFE`` days).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

# A weekday alone, or "last Sunday", is the latest one; "the third Monday of February", "every Monday" and
# "on Mondays" name a recurring day, not the present.
_WEEKDAY = "".join(f"(?<!{word} )" for word in ("first", "second", "third", "fourth", "fifth", "every"))
_WEEKDAY += rf"(?:{'|'.join(calendar.day_name)})(?!s\b)"
_PRESENT = re.compile(
    r"\b(?:this (?:week|weekend|month|year|season|spring|summer|autumn|fall|winter)|recent(?:ly)?|new(?:ly)?|now|"
    r"current(?:ly)?|latest|today|tonight|yesterday|(?:last|past) (?:week|weekend)|so far|ongoing|upcoming|just|"
    rf"announced|unveiled|launched|{_WEEKDAY})\b",
    re.IGNORECASE,
)


_MONTHS = "|".join(calendar.month_name[1:])
_PERIOD = re.compile(rf"\b(?:in|during|of|for)\s+(?:(?:early|late|mid-?)\s*)?(?:({_MONTHS})\s+)?((?:19|20)\d\d)\b")
PERIOD_HALF_LIFE = 365.0


@dataclass(frozen=True)
class TimeFocus:
    """The span of days a question is about: the as-of day for the present, or a named past period."""

    start: date
    end: date
    half_life: float
    past: bool = False  # a named period over before the as-of day: later reports do not supersede its own
    present: bool = False  # the as-of day itself: the question asks what is happening now

    def staleness(self, published: str | None) -> float:
        """0 for a report inside the span, rising towards 1 the further outside it lies; 0.5 undated."""
        if not published:
            return 0.5
        day = date.fromisoformat(published[:10])
        gap = (self.start - day).days if day < self.start else max(0, (day - self.end).days)
        return 1.0 - 0.5 ** (gap / self.half_life)


def named_period(question: str) -> tuple[date, date] | None:
    """The first and last day of a year or month the question names ("in 2019", "in March 2019")."""
    found = _PERIOD.search(question)
    if not found:
        return None
    year = int(found.group(2))
    if found.group(1):
        month = list(calendar.month_name).index(found.group(1))
        return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    return date(year, 1, 1), date(year, 12, 31)


def time_focus(question: str, as_of: str | None, half_life: float) -> TimeFocus | None:
    """What time the question is about, asked as of ``as_of``: a year or month it names that has begun by then
    (up to that day), else the present for a question about it, else none (no time prior)."""
    if not as_of:
        return None
    asked = date.fromisoformat(as_of[:10])
    period = named_period(question)
    if period and period[0] <= asked:
        return TimeFocus(period[0], min(period[1], asked), PERIOD_HALF_LIFE, past=period[1] < asked)
    if asks_about_present(question):
        return TimeFocus(asked, asked, half_life, present=True)
    return None


def today() -> str:
    """Today's date (UTC), the default as-of moment."""
    return datetime.now(UTC).date().isoformat()


def asks_about_present(question: str) -> bool:
    """Whether the question is about what is happening now ("this week", "recently", "new", "latest", "on
    Monday" ...)."""
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
