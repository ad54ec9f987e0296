"""The LLM answerer against a real HTTP server on 127.0.0.1 speaking the OpenAI chat completions API."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from newsbot.corpus.store import Store
from newsbot.evaluation import citations_valid
from newsbot.ingest.pipeline import ingest
from newsbot.qa.chain import QA
from newsbot.qa.llm import chat_model, token_limit
from newsbot.records import Filters
from newsbot.settings import LlmSettings, Settings, SettingsError
from tests.conftest import SAMPLES, WebServer, make_config
from tests.fake_openai import FakeOpenAI

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("llm") / "store"
    with Store(make_config(path), write=True) as store:
        ingest([str(SAMPLES)], store)
    return path


@pytest.fixture
def llm(web: WebServer) -> FakeOpenAI:
    return FakeOpenAI(web)


@pytest.fixture
def qa(sample_store: Path, llm: FakeOpenAI) -> Iterator[QA]:
    config: Settings = make_config(
        sample_store, llm={"provider": "openai", "base_url": llm.base_url, "model": "scripted", "timeout": 2}
    )
    with Store(config) as store:
        yield QA(store, config)


def given_passages(llm: FakeOpenAI) -> str:
    return llm.requests[-1]["messages"][-1]["content"]


def test_a_good_cited_answer_is_kept_with_exact_quotes(qa: QA, llm: FakeOpenAI):
    llm.replies.append(
        "Tripoli is governed by a self-declared government [1]. Libya Dawn took the capital in 2014 [1]."
    )
    answer, passages = qa.ask("Who governs Tripoli?", filters=Filters(as_of="2015-06-20"))
    assert '<passage n="1"' in given_passages(llm) and passages[0].text in given_passages(llm).replace("\u2039", "<")
    assert not answer.abstained and answer.notes == []  # nothing removed, and its reports are days old
    assert answer.text == (
        "Tripoli is governed by a self-declared government [1]. Libya Dawn took the capital in 2014 [2]."
    )
    assert citations_valid(answer, qa.store) == (len(answer.citations), len(answer.citations)) != (0, 0)
    assert "self-declared" in answer.citations[0].quote
    # a local server is bounded by the name it knows; llama-cpp-python ignores OpenAI's max_completion_tokens
    assert llm.requests[-1]["max_tokens"] == 400 and "max_completion_tokens" not in llm.requests[-1]


def test_openai_itself_gets_its_owntoken_limit_name():
    assert token_limit(LlmSettings(base_url="", max_tokens=50)) == {"max_completion_tokens": 50}
    assert token_limit(LlmSettings(base_url="https://api.openai.com/v1", max_tokens=50)) == {
        "max_completion_tokens": 50
    }


def test_a_citation_to_a_passage_that_was_not_given_is_removed(qa: QA, llm: FakeOpenAI):
    llm.replies.append("Tripoli is governed by a self-declared government [1][42].")
    answer, _ = qa.ask("Who governs Tripoli?")
    assert "[42]" not in answer.text and "[1]" in answer.text
    assert any("[42]" in note and "no such passage" in note for note in answer.notes)


def test_uncited_and_unsupported_claims_are_dropped(qa: QA, llm: FakeOpenAI):
    llm.replies.append(
        "Tripoli is governed by a self-declared government [1]. The mayor owns three bakeries. "
        "Pluto has a thick ocean of liquid nitrogen on its surface [1]."
    )
    answer, _ = qa.ask("Who governs Tripoli?")
    assert answer.text == "Tripoli is governed by a self-declared government [1]."
    assert any("uncited claim" in note for note in answer.notes)
    assert any("does not support" in note for note in answer.notes)
    assert citations_valid(answer, qa.store)[0] == len(answer.citations) == 1


@pytest.mark.parametrize(
    ("reply", "note"),
    [
        ("", "empty"),
        ("I think so, maybe.", "no claim"),
        (500, "scripted failure"),
        (3.0, "timed out"),
    ],
)
def test_malformed_failing_and_slow_replies_fall_back_to_the_offline_answer(qa: QA, llm: FakeOpenAI, reply, note):
    llm.replies.append(reply)
    answer, _ = qa.ask("Who governs Tripoli?")
    assert any(note in n for n in answer.notes), answer.notes
    assert not answer.abstained and "self-declared" in answer.text
    assert citations_valid(answer, qa.store)[0] == len(answer.citations) > 0


def test_an_unreachable_endpoint_falls_back(sample_store: Path):
    config = make_config(sample_store, llm={"provider": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "x"})
    with Store(config) as store:
        answer, _ = QA(store, config).ask("Who governs Tripoli?")
    assert any(n.startswith("LLM unavailable") and "Connection error" in n for n in answer.notes)
    assert "self-declared" in answer.text


def test_not_in_articles_abstains(qa: QA, llm: FakeOpenAI):
    llm.replies.append("NOT IN ARTICLES")
    answer, _ = qa.ask("Who won the football match?")
    assert answer.abstained and answer.citations


def test_a_follow_up_is_rewritten_by_the_llm(qa: QA, llm: FakeOpenAI):
    llm.replies.extend(["who backs the government that governs Tripoli", "Libya Dawn took over the capital [1]."])
    history = [{"question": "Who governs Tripoli?", "answer": "A self-declared government."}]
    answer, _ = qa.ask("and who backs it?", history=history)
    assert answer.query == "who backs the government that governs Tripoli"
    assert "Who governs Tripoli?" in llm.requests[0]["messages"][-1]["content"]


@pytest.mark.parametrize("provider", ["nosuch", "ollama"])
def test_a_provider_langchain_cannot_build_is_a_configuration_error(provider: str):
    """An unknown provider, or one whose integration package is not installed (langchain-ollama is not a
    dependency), fails at start naming the key, not at the first question."""
    with pytest.raises(SettingsError, match=rf"llm.provider '{provider}'"):
        chat_model(LlmSettings(provider=provider, model="some-model"))
