"""`newsbot eval` end to end: our own question format on the bundled samples, and the RealTimeQA layout with
its two scopes, through the real CLI, store and model."""

import json
import statistics
from pathlib import Path

import pytest

from newsbot.evaluation import load_realtimeqa
from tests.conftest import ROOT, SAMPLES, WebServer
from tests.fake_openai import FakeOpenAI
from tests.test_cli import newsbot_env, run

pytestmark = pytest.mark.e2e

QUESTIONS = ROOT / "examples" / "questions.jsonl"


def eval_json(*args: str, env: dict[str, str]) -> dict:
    done = run("eval", *args, "--json", env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_eval_own_questions_on_the_samples(tmp_path: Path):
    env = newsbot_env(tmp_path / "store")
    assert run("ingest", str(SAMPLES), env=env).returncode == 0
    report = eval_json(str(QUESTIONS), "--baseline", env=env)
    summary, rows = report["summary"], {row["id"]: row for row in report["questions"]}
    assert (summary["questions"], summary["answerable"]) == (10, 9)
    assert summary["stated"] == 8  # New Horizons' launch date sits in a sentence that says "the spacecraft"
    assert not rows["pluto-launch"]["stated"] and rows["derna-control"]["stated"]
    assert set(summary["methods"]) == {"newsbot", "first-words control", "heuristic reader"}  # beside the trained
    newsbot = summary["methods"]["newsbot"]
    assert rows["derna-control"]["heuristic reader"]["contains_gold"]
    assert newsbot["citation_validity"] == 1.0
    assert newsbot["contains_gold_answerable"] >= 7 / 9  # 8 of 9 at this commit; the control answers 7
    assert summary["retrieval_hit_at"]["10"] == 1.0
    assert not rows["football-unanswerable"]["answerable"]
    assert rows["football-unanswerable"]["newsbot"]["abstained"]
    assert summary["unanswerable_with_articles"] == 1
    assert (newsbot["abstained_unanswerable_with_articles"], newsbot["abstained_answerable"]) == (1.0, 0.0)
    assert rows["nepal-epicentre"]["newsbot"]["contains_gold"]  # a second quote from the one article that says it
    assert rows["derna-control"]["first_hit_rank"] == 1
    # each method's latency per question, the figures its median is taken over
    assert all(row[m]["ms"] > 0 for row in rows.values() for m in summary["methods"])
    assert abs(statistics.median(row["newsbot"]["ms"] for row in rows.values()) - newsbot["median_latency_ms"]) <= 0.1


def test_eval_scores_a_naive_llm_pipeline_beside_newsbot(tmp_path: Path, web: WebServer):
    llm = FakeOpenAI(web)
    store = tmp_path / "store"
    assert run("ingest", str(SAMPLES), env=newsbot_env(store)).returncode == 0
    refused = run("eval", str(QUESTIONS), "--naive-llm", env=newsbot_env(store))
    assert refused.returncode == 2 and "--naive-llm needs an LLM" in refused.stderr
    questions = 2 * len(QUESTIONS.read_text(encoding="utf-8").splitlines())  # the file given twice
    # newsbot's LLM call for every question of both files (a 500: it answers offline), then the naive pipeline's
    llm.replies += [500] * questions + ["Majlis Mujahideen holds it."] + ["I could not tell."] * (questions - 1)
    env = newsbot_env(
        store, NEWSBOT_LLM__PROVIDER="openai", NEWSBOT_LLM__BASE_URL=llm.base_url, NEWSBOT_LLM__MODEL="scripted"
    )
    report = eval_json(str(QUESTIONS), str(QUESTIONS), "--naive-llm", env=env)
    naive = report["summary"]["methods"]["naive LLM"]
    assert naive["contains_gold_answerable"] == round(1 / 18, 4)
    assert naive["citation_validity"] is None  # it cites nothing: not "100% valid"
    assert report["questions"][0]["naive LLM"]["text"] == "Majlis Mujahideen holds it."
    methods = report["summary"]["methods"]
    assert set(methods) == {"newsbot", "newsbot offline", "heuristic reader", "naive LLM"}  # beside the LLM's
    assert methods["newsbot"]["contains_gold_answerable"] >= 7 / 9  # every LLM call failed: the offline fallback
    assert methods["newsbot offline"]["contains_gold_answerable"] == methods["newsbot"]["contains_gold_answerable"]
    assert report["summary"]["llm_replies"] == {"refused": questions, "reasons": {"unavailable": questions}}
    assert report["questions"][0]["llm_reply"] == "refused"
    assert report["questions"][0]["newsbot"]["notes"][0].startswith("LLM unavailable (OpenAIAPIError: Error code: 500")
    contents = [r["messages"][-1]["content"] for r in llm.requests]
    prompts = contents[questions:]  # a server's prompt cache keeps newsbot's prompt while newsbot asks, file to file
    assert not any(c.startswith("Context:") for c in contents[:questions])
    assert len(prompts) == questions and all(p.startswith("Context:") for p in prompts)
    assert "Derna" in prompts[0] and "Question: Who controls Derna?" in prompts[0]
    assert not llm.replies


def write_week(folder: Path) -> Path:
    """A RealTimeQA-shaped week of our own: each question's search returned one article; the second question's
    answer is only in the first question's article; the third's gold words occur only in passing."""
    lighthouse = {
        "url": "https://week.example/lighthouse",
        "title": "Harbour lighthouse relit",
        "text": "The old harbour lighthouse at Port Ellis was relit on Monday after a two-year repair. "
        "The repair was paid for by the Ellis Maritime Trust, a local charity.",
        "publish_date": "2099/01/01",
    }
    ferry = {
        "url": "https://week.example/ferry",
        "title": "Ferry timetable changes",
        "text": "The island ferry will sail twice a day from March. Its operator said winter storms had "
        "damaged the northern pier. Tickets are sold at the Harbour Board office.",
        "publish_date": "2099/01/02",
    }
    questions = [
        {
            "question_sentence": "Which charity paid for the lighthouse repair?",
            "choices": ["Ellis Maritime Trust", "Red Cross"],
            "answer": ["0"],
        },
        {
            "question_sentence": "Who paid for the repair in Port Ellis?",
            "choices": ["Harbour Board", "Ellis Maritime Trust"],
            "answer": ["1"],
        },
    ]
    questions.append(
        {
            "question_sentence": "Who will run the new maritime museum?",
            "choices": ["Harbour Board", "Ellis Maritime Trust"],
            "answer": ["0"],
        }
    )
    qa_lines, gcs_lines = [], []
    for number, (question, article) in enumerate(zip(questions, [lighthouse, ferry, ferry], strict=True)):
        qid = f"20990101_{number}"
        qa_lines.append(json.dumps({"question_id": qid, **question}))
        gcs_lines.append(json.dumps({"question_id": qid, "search_time": "", "search_result": [article]}))
    (folder / "20990101_gcs.jsonl").write_text("\n".join(gcs_lines) + "\n", encoding="utf-8")
    path = folder / "20990101_qa.jsonl"
    path.write_text("\n".join(qa_lines) + "\n", encoding="utf-8")
    return path


def test_eval_realtimeqa_layout_scopes_questions_to_their_own_search_results(tmp_path: Path):
    questions = write_week(tmp_path)
    env = newsbot_env(tmp_path / "unused-store")
    work = str(tmp_path / "work")
    by_question = eval_json(str(questions), "--work-dir", work, env=env)
    summary = by_question["summary"]
    assert (summary["questions"], summary["answerable"], summary["stated"]) == (3, 2, 1)
    first, second, third = by_question["questions"]
    assert first["answerable"] and first["stated"] and first["newsbot"]["contains_gold"]
    assert not second["answerable"]  # its own search result does not hold the answer
    assert summary["unanswerable_with_articles"] == 1
    assert third["answerable"] and not third["stated"]  # "Harbour Board" is only where tickets are sold
    assert summary["retrieval_hit_at_stated"]["10"] == 1.0
    by_week = eval_json(str(questions), "--scope", "week", "--work-dir", work, env=env)
    assert (by_week["summary"]["answerable"], by_week["summary"]["stated"]) == (3, 2)
    assert all(row["newsbot"]["contains_gold"] for row in by_week["questions"][:2])
    week_store = newsbot_env(tmp_path / "work" / "20990101", NEWSBOT_STORE__CHROMA__COLLECTION="eval-20990101")
    stats = run("stats", "--json", env=week_store)
    assert json.loads(stats.stdout)["articles"] == 2  # the week's store is reused, not filled twice


def test_eval_asks_each_question_as_of_its_question_date(tmp_path: Path):
    """The gold text is only in a report published after the question was asked: eval cannot peek at it."""
    earlier = {
        "url": "https://week.example/dam-plan",
        "title": "Dam plan debated",
        "text": "Engineers in Valdmoor debated on Tuesday whether the old river dam can be saved.",
        "publish_date": "2024/03/05",
    }
    later = {
        "url": "https://week.example/dam-decision",
        "title": "Dam to be rebuilt",
        "text": "The Valdmoor council decided that Brightwater Construction will rebuild the old river dam.",
        "publish_date": "2024/03/20",
    }
    question = {
        "question_id": "20240308_0",
        "question_date": "2024/03/08",
        "question_sentence": "Which company will rebuild the Valdmoor dam?",
        "choices": ["Brightwater Construction", "Valdmoor Works"],
        "answer": ["0"],
    }
    (tmp_path / "20240308_qa.jsonl").write_text(json.dumps(question) + "\n", encoding="utf-8")
    search = {"question_id": "20240308_0", "search_time": "", "search_result": [earlier, later]}
    (tmp_path / "20240308_gcs.jsonl").write_text(json.dumps(search) + "\n", encoding="utf-8")
    report = eval_json(
        str(tmp_path / "20240308_qa.jsonl"), "--work-dir", str(tmp_path / "work"), env=newsbot_env(tmp_path)
    )
    (row,) = report["questions"]
    assert row["as_of"] == "2024-03-08"
    assert not row["answerable"] and row["first_hit_rank"] is None
    assert "Brightwater" not in row["newsbot"]["text"]


def test_realtimeqa_questions_are_read_as_plain_text(tmp_path: Path):
    """Some weeks' questions carry their quiz page's links as HTML; the markup is not part of the question."""
    row = {
        "question_id": "20250502_1",
        "question_date": "2025/05/02",
        "question_sentence": 'Demand for <a data-analytics-id="inline-link" href="https://example.org/tag/dubai">'
        "Dubai</a> chocolate &amp; pastries caused a shortage of which nut?",
        "choices": ["Pistachio", "Almond"],
        "answer": ["0"],
    }
    path = tmp_path / "20250502_qa.jsonl"
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    (question,) = load_realtimeqa(path)
    assert question.question == "Demand for Dubai chocolate & pastries caused a shortage of which nut?"
    assert (question.gold, question.as_of) == (("Pistachio",), "2025-05-02")
