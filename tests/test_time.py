"""A sense of time: answers are given as of a day, later reports do not exist yet, questions about the present
prefer recent reports, and an answer from old reports says how old. Real store and model."""

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from newsbot.corpus.store import Store
from newsbot.ingest.pipeline import ingest
from newsbot.qa.chain import QA
from newsbot.qa.recency import asks_about_present, staleness, time_focus
from newsbot.records import Filters
from newsbot.settings import Settings
from tests.conftest import SAMPLES, make_config
from tests.test_cli import newsbot_env, run

pytestmark = pytest.mark.e2e

# Two reports written for these tests, six years apart, each naming the club's coach of its day; the old one
# words it closer to the question.
CLUB_REPORTS = [
    {
        "id": "rovers-coach-2019",
        "title": "Riverton Rovers coach",
        "source": "riverton-gazette",
        "published": "2019-03-04",
        "text": "RIVERTON, March 4 Ana Ruiz is the new head coach of the Riverton Rovers, the club said on Monday. "
        "Ruiz, a former captain, signed a three-year contract.",
    },
    {
        "id": "rovers-coach-2025",
        "title": "Riverton Rovers appoint Tom Becker",
        "source": "riverton-gazette",
        "published": "2025-03-03",
        "text": "RIVERTON, March 3 The Riverton Rovers appointed Tom Becker to lead the first team on Monday. "
        "Becker ran the youth team for four seasons and signed a two-year contract.",
    },
]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Settings]]:
    folder = tmp_path_factory.mktemp("time")
    club = folder / "club.jsonl"
    club.write_text("\n".join(json.dumps(r) for r in CLUB_REPORTS) + "\n", encoding="utf-8")
    config = make_config(folder / "store")
    with Store(config, write=True) as store:
        ingest([str(SAMPLES), str(club)], store)
    with Store(config) as store:
        yield store, config


@pytest.fixture(scope="module")
def qa(library: tuple[Store, Settings]) -> QA:
    return QA(*library)


def test_reports_published_after_the_as_of_day_do_not_exist(qa: QA):
    question = "How many people have died in the Nepal earthquake?"
    then, _ = qa.ask(question, filters=Filters(as_of="2015-04-27"))
    assert then.as_of == "2015-04-27" and then.citations
    assert all(c.published <= "2015-04-27" for c in then.citations if c.published)
    assert "7,200" not in then.text
    now, _ = qa.ask(question)
    assert now.as_of is not None and now.as_of > "2025-01-01"  # today by default
    assert "7,200" in now.text


def test_a_question_about_the_present_prefers_the_recent_report(qa: QA, library: tuple[Store, Settings]):
    question, as_of = "Who is the new head coach of the Riverton Rovers?", Filters(as_of="2025-03-10")
    answer, passages = qa.ask(question, filters=as_of)
    assert "Becker" in answer.text and answer.citations[0].published == "2025-03-03"
    assert answer.text.startswith("According to the latest report")
    assert "An earlier report (riverton-gazette, 4 March 2019) said" in answer.text  # the change is visible
    assert "Becker" in qa.answerer.rank(question, passages, as_of.as_of)[0].text
    store, config = library
    timeless = make_config(
        config.store.path, answer={"recency_weight": 0.0, "reader_recency": 0.0}, retrieval={"recency_weight": 0.0}
    )  # the same store without the recency prior: the old report's closer wording ranks first
    without = QA(store, timeless)
    passages = without.retriever.passages(question, as_of)
    assert "Ruiz" in without.answerer.rank(question, passages, as_of.as_of)[0].text


def test_a_fresh_report_on_another_story_does_not_outrank_an_older_answer(qa: QA):
    """As of 1 July 2015 the Libya reports are two weeks old and the Nepal toll report two months: being recent
    earns credit only for a report about the question (the trained reader alone scores a Libya sentence
    higher here)."""
    answer, _ = qa.ask("What is the latest death toll of the Nepal earthquake?", filters=Filters(as_of="2015-07-01"))
    lead = answer.citations[0]
    assert "7,200" in lead.quote and lead.published == "2015-05-03", answer.text
    assert all("Nepal" in c.title or "earthquake" in c.quote for c in answer.citations), answer.text


def test_a_question_naming_a_year_prefers_the_reports_of_that_year(qa: QA):
    """The reports carry no year in their words: only their dates tell the two questions apart."""
    as_of = Filters(as_of="2025-03-10")
    then, _ = qa.ask("Who was appointed head coach of the Riverton Rovers in 2019?", filters=as_of)
    assert "Ruiz" in then.text and then.citations[0].published == "2019-03-04"
    now, _ = qa.ask("Who was appointed head coach of the Riverton Rovers in 2025?", filters=as_of)
    assert "Becker" in now.text and now.citations[0].published == "2025-03-03"


def test_the_time_a_question_is_about():
    focus = time_focus("Who won the league in March 2019?", "2025-03-10", 30)
    assert focus is not None and (focus.start, focus.end) == (date(2019, 3, 1), date(2019, 3, 31))
    assert focus.staleness("2019-03-20") == 0.0 and focus.staleness("2024-03-20") > 0.95
    assert focus.staleness("2019-06-29") == pytest.approx(1 - 0.5 ** (90 / 365))
    this_year = time_focus("What happened in 2025?", "2025-03-10", 30)
    assert this_year is not None and this_year.end == date(2025, 3, 10)  # up to the as-of day
    assert time_focus("Who will win in 2030?", "2025-03-10", 30) is None  # not begun: no prior
    assert time_focus("Who controls Derna?", "2025-03-10", 30) is None
    present = time_focus("Who is the new coach?", "2025-03-10", 30)
    assert present is not None and present.staleness("2025-02-08") == pytest.approx(0.5)


def test_an_answer_from_old_reports_says_how_old_they_are(qa: QA):
    recent, _ = qa.ask("Who controls Derna?", filters=Filters(as_of="2015-06-20"))
    assert not any("newest stored report" in note for note in recent.notes)
    years_later, _ = qa.ask("Who controls Derna?", filters=Filters(as_of="2019-01-01"))
    assert "the newest stored report on this is from June 2015" in years_later.notes


def test_what_counts_as_a_question_about_the_present():
    assert asks_about_present("Which company debuted a new inclusive toy this week?")
    assert asks_about_present("Who is the current prime minister of Japan?")
    assert not asks_about_present("Who did Majlis fight in Derna?")
    assert asks_about_present("Which Italian volcano erupted on Monday?")  # a weekday alone: the latest one
    assert asks_about_present("What did the senator say in Monday's hearing?")
    assert not asks_about_present("Which US holiday takes place on the third Monday of February every year?")
    assert not asks_about_present("Which shops open on Sundays?")  # a recurring day, not the present
    assert asks_about_present("Which team won the final last weekend?")
    named = time_focus("Which team won the Monday-night final in 2019?", "2025-03-10", 30)
    assert named is not None and named.past  # a named year decides over a weekday
    assert staleness("2025-03-10", "2025-03-10", 30) == 0.0
    assert staleness("2025-02-08", "2025-03-10", 30) == pytest.approx(0.5)
    assert staleness(None, "2025-03-10", 30) == 0.5


def test_ask_takes_an_as_of_day_on_the_command_line(tmp_path: Path):
    env = newsbot_env(tmp_path / "store")
    assert run("ingest", str(SAMPLES / "world"), "--quiet", env=env).returncode == 0
    done = run("ask", "How many people died in the Nepal earthquake?", "--as-of", "2015-04-27", "--json", env=env)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["as_of"] == "2015-04-27"
    assert all(c["published"] <= "2015-04-27" for c in answer["citations"] if c["published"])
    bad = run("ask", "Who?", "--as-of", "someday", env=env)
    assert bad.returncode == 2 and "not a date" in bad.stderr
