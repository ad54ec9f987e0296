"""The trained reader: its committed weights load offline, find the answer sentence among distractors in our own
samples, and say which version answered. Real model and store."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsbot.corpus.embedder import cache_dir
from newsbot.corpus.store import Store
from newsbot.ingest.pipeline import ingest
from newsbot.qa.chain import QA
from newsbot.qa.reader import RUNTIMES, WEIGHTS, load_reader, reader_names, reader_version
from newsbot.sentences import sentence_spans
from newsbot.settings import Settings
from tests.conftest import ROOT, SAMPLES, make_config
from tests.test_cli import newsbot_env, run

pytestmark = pytest.mark.e2e

READER = "reader-v1"
QUESTIONS = ROOT / "examples" / "questions.jsonl"


def known_answers() -> list[tuple[str, list[str]]]:
    """Our sample questions that the samples answer, each with its gold texts."""
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    return [(row["question"], row["answers"]) for row in rows if "unanswerable" not in row["id"]]


@pytest.fixture(scope="module")
def sample_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    config = make_config(tmp_path_factory.mktemp("reader") / "store", answer={"reader": READER})
    with Store(config, write=True) as store:
        ingest([str(SAMPLES)], store)
    yield config


def test_weights_are_committed_small_and_documented() -> None:
    assert READER in reader_names()
    size = sum(p.stat().st_size for p in WEIGHTS.iterdir())
    assert size <= 30 * 1024 * 1024, f"{size} bytes of reader weights"
    card = json.loads((WEIGHTS / f"{READER}.json").read_text())
    assert {"version", "command", "seed", "trained_on", "history"} <= set(card)
    assert reader_version(READER) == card["version"]
    assert (WEIGHTS / "READER.md").read_text().count(READER) >= 1


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_reader_ranks_the_answer_sentence_above_its_articles_other_sentences(
    sample_config: Settings, runtime: str
) -> None:
    """The reader alone, on the hardest distractors our samples have: the other sentences of the articles that
    answer. Measured: first for 5 of the 9 questions, never below 5th ("Who controls Derna?" prefers the lead
    that says "an Islamist coalition" without naming it; the heuristic's vote and the blend settle such cases
    in the product, and test_answers checks the answers themselves)."""
    with Store(sample_config) as store:
        articles = [article for a in store.article_ids() if (article := store.article(a))]
    reader = load_reader(READER, 1, runtime)
    ranks = {}
    for question, golds in known_answers():
        sentences = sorted(
            (a.title, a.text[s:e])
            for a in articles
            if any(g in a.text for g in golds)
            for s, e in sentence_spans(a.text)
        )
        scores = reader.score(question, sentences)
        order = sorted(range(len(sentences)), key=lambda i: -scores[i])
        ranks[question] = next(rank for rank, i in enumerate(order) if any(g in sentences[i][1] for g in golds))
    assert sum(rank == 0 for rank in ranks.values()) >= 5, ranks
    assert max(ranks.values()) <= 4, ranks


def test_the_int8_reader_scores_a_sentence_the_same_alone_and_among_others(sample_config: Settings) -> None:
    """Static int8 (OpenVINO) scores a question's sentences in one call: a sentence's score must not move with
    its neighbours or their padding, or the same question would get a different answer beside other passages."""
    with Store(sample_config) as store:
        articles = [article for a in store.article_ids() if (article := store.article(a))]
    sentences = [(a.title, a.text[s:e]) for a in articles for s, e in sentence_spans(a.text)]
    reader = load_reader(READER, 1, "openvino")
    together = reader.score("Who controls Derna?", sentences)
    alone = [reader.score("Who controls Derna?", [sentence])[0] for sentence in sentences]
    assert len(sentences) >= 40 and len(set(together)) > 1
    assert max(abs(a - b) for a, b in zip(alone, together, strict=True)) < 0.05
    assert reader.score("Who controls Derna?", []) == []


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_question_longer_than_the_models_input_is_read_by_its_end(sample_config: Settings, runtime: str) -> None:
    """Cutting only the sentence side cannot make room for a question that alone fills the reader's 96 tokens
    (the tokenizer raised, and `ask` with it): such a question keeps its last words, where its question is."""
    preamble = "Libya has had rival administrations in the east and the west since the fighting of 2014. " * 8
    sentence = ("Derna", "The town of Derna is under the control of the Majlis Shura, a coalition of militias.")
    reader = load_reader(READER, 1, runtime)
    long_score, short_score = (reader.score(q, [sentence])[0] for q in (preamble + "Who controls Derna?", "x"))
    assert long_score != short_score
    with Store(sample_config) as store:
        answer, _ = QA(store, sample_config).ask(preamble + "Who controls Derna?")
    assert answer.citations and not answer.abstained


def test_the_int8_reader_is_quantised_once_and_cached() -> None:
    """The first load quantises (about a minute); every later load, in any process, reads the cached model."""
    reader = load_reader(READER, 1, "openvino")
    cached = [p for p in cache_dir().glob(f"{READER}-int8-*") if (p / "model.xml").exists()]
    assert cached, f"no quantised {READER} under {cache_dir()}"
    before = {p: p.stat().st_mtime_ns for p in cache_dir().glob("*/model.xml")}
    code = "from newsbot.qa.reader import TrainedReader; print(TrainedReader('reader-v1', 1, 'openvino').runtime)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["openvino"]
    assert {p: p.stat().st_mtime_ns for p in cache_dir().glob("*/model.xml")} == before
    assert reader.runtime == "openvino"


def test_answers_say_which_reader_chose_them(sample_config: Settings) -> None:
    with Store(sample_config) as store:
        answer, _ = QA(store, sample_config).ask("Who controls Derna?")
    assert answer.reader == reader_version(READER)
    assert "Majlis" in answer.citations[0].quote


def test_the_reader_loads_offline_in_a_fresh_process() -> None:
    code = "from newsbot.qa.reader import load_reader; print(load_reader('reader-v1').version)"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == reader_version(READER)


def test_an_unknown_reader_is_refused_by_name(tmp_path: Path) -> None:
    env = newsbot_env(tmp_path / "store", NEWSBOT_ANSWER__READER="no-such-reader")
    done = run("ask", "Who controls Derna?", env=env)
    assert done.returncode == 2
    assert "answer.reader 'no-such-reader'" in done.stderr and "heuristic" in done.stderr


@pytest.mark.parametrize(
    ("runtime", "expected"),
    [("torch", ["2", "1", "-"]), ("openvino", ["2", "2", "1"])],  # torch's setting is process-wide; OpenVINO's not
)
def test_the_reader_runs_on_the_configured_number_of_threads(tmp_path: Path, runtime: str, expected: list[str]) -> None:
    code = (
        "import torch; from newsbot.qa.extractive import ExtractiveAnswerer; from newsbot.settings import Settings; "
        f"config = Settings().answer.model_copy(update={{'reader_threads': 1, 'reader_runtime': '{runtime}'}}); "
        "before = torch.get_num_threads(); reader = ExtractiveAnswerer(None, config).reader; compiled = "
        "reader._openvino and reader._openvino._compiled; "
        "print(before, torch.get_num_threads(), compiled.get_property('INFERENCE_NUM_THREADS') if compiled else '-')"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == expected


def test_an_unknown_reader_runtime_is_refused_by_its_key(tmp_path: Path) -> None:
    env = newsbot_env(tmp_path / "store", NEWSBOT_ANSWER__READER_RUNTIME="onnx")
    done = run("ask", "Who controls Derna?", env=env)
    assert done.returncode == 2
    assert "reader_runtime" in done.stderr and "openvino" in done.stderr
