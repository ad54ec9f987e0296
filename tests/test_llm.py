"""The LLM answerer against a real HTTP server on 127.0.0.1 speaking the OpenAI chat completions API."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsbot.corpus.store import Store
from newsbot.evaluation import citations_valid
from newsbot.ingest.pipeline import ingest
from newsbot.qa.chain import QA
from newsbot.qa.llm import chat_model, token_limit
from newsbot.records import Answer, Filters
from newsbot.settings import LlmSettings, Settings, SettingsError
from tests.conftest import SAMPLES, WebServer, make_config
from tests.fake_openai import CutOff, FakeOpenAI, cited, sentence_number

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
    config: Settings = make_config(  # neighbours given too, so that replies can cite the sentences around the best
        sample_store,
        llm={"provider": "openai", "base_url": llm.base_url, "model": "scripted", "timeout": 2, "context": 1},
    )
    with Store(config) as store:
        yield QA(store, config)


GOVERNMENT = "Tripoli is governed by a second, self-declared government."
AS_OF = Filters(as_of="2015-06-20")


def prompt(llm: FakeOpenAI) -> str:
    return llm.requests[-1]["messages"][-1]["content"]


def short(answer: Answer) -> str:
    """The model's checked words, without the quotes shown under them."""
    return answer.text.split("\n\n")[0]


def test_a_json_reply_is_kept_with_exact_quotes_and_streamed(qa: QA, llm: FakeOpenAI):
    llm.replies.append(cited("a second, self-declared government", "self-declared"))
    drafts: list[str] = []
    answer, _ = qa.ask("Who governs Tripoli?", filters=AS_OF, on_text=drafts.append)
    assert not answer.abstained and answer.notes == [] and answer.reader == "llm:scripted"
    assert answer.text.splitlines() == [
        "a second, self-declared government [1]",
        "",
        f"[1] newsbot-samples, 15 June 2015: “{GOVERNMENT}”",  # the evidence, under the claim
    ]
    assert [c.quote for c in answer.citations] == [GOVERNMENT]
    assert citations_valid(answer, qa.store) == (1, 1)
    # the unchecked answer arrived piece by piece, never as raw JSON
    assert len(drafts) > 1 and drafts[-1] == "a second, self-declared government" and "{" not in "".join(drafts)
    assert answer.timings["first_words_ms"] <= answer.timings["total_ms"]
    request = llm.requests[-1]
    assert request["stream"] is True and request["response_format"]["type"] == "json_schema"
    # a local server is bounded by the name it knows; llama-cpp-python ignores OpenAI's max_completion_tokens
    assert request["max_tokens"] == 400 and "max_completion_tokens" not in request


def test_the_prompt_numbers_a_few_sentences_best_report_first_and_says_the_day_and_the_newest(qa: QA, llm: FakeOpenAI):
    llm.replies.append(cited("a second, self-declared government", "self-declared"))
    _, passages = qa.ask("Who governs Tripoli?", filters=AS_OF)
    given = prompt(llm)
    assert given.startswith("Today is 2015-06-20.")
    numbered = [line for line in given.splitlines() if line.startswith("[")]
    assert f"] {GOVERNMENT}" in given and len(numbered) <= 4 * 3
    assert len(given) < sum(len(p.text) for p in passages)  # less than the passages retrieved
    reports = [line for line in given.splitlines() if line.startswith("<report")]
    assert f'title="{passages[0].title}"' in reports[0]  # the report holding the reader's best sentence leads
    newest = [line for line in reports if " newest " in line]
    assert len(newest) == 1 and 'published="2015-06-15"' in newest[0] and 'published="2015-06-14"' in given


def test_a_citation_of_a_sentence_that_was_not_given_is_removed(qa: QA, llm: FakeOpenAI):
    llm.replies.append(
        lambda request: json.dumps(
            {"answer": "a self-declared government", "sentences": [sentence_number(request, "self-declared"), 42]}
        )
    )
    answer, _ = qa.ask("Who governs Tripoli?", filters=AS_OF)
    assert short(answer) == "a self-declared government [1]" and [c.quote for c in answer.citations] == [GOVERNMENT]
    assert any("[42]" in note and "no such sentence was given" in note for note in answer.notes)


def test_spelled_numbers_and_dotted_abbreviations_support_a_claim_and_a_question_does_not(
    tmp_path: Path, web: WebServer
):
    """The sentences say "a five-year ban", "Twelve lifeboats" and "the U.K."; the model answers "5 years", "12"
    and "UK". A question given as context states nothing, so a citation of it is removed."""
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "visit.md").write_text(
        "---\ntitle: State visit\nsource: newsbot-samples\npublished: 2025-09-18\n---\n"
        "The president's second state visit to the U.K. began on Tuesday with a banquet at Windsor Castle.\n\n"
        "A court handed the opposition leader a five-year ban from public office on Monday.\n\n"
        "Twelve lifeboats were launched from the harbour when the ferry ran aground on Sunday.\n\n"
        "What did the harbour master say about the port? The harbour master said the port would reopen in May.\n",
        encoding="utf-8",
    )
    llm = FakeOpenAI(web)
    config = make_config(  # sentences either side given as context: the question before the port's answer
        tmp_path / "store", llm={"provider": "openai", "base_url": llm.base_url, "model": "scripted", "context": 1}
    )
    llm.replies.extend(
        [
            cited("UK", "state visit"),
            cited("5 years", "five-year"),
            cited("12", "Twelve lifeboats"),
            cited("the port would reopen in May", "What did the harbour", "would reopen"),
        ]
    )
    with Store(config, write=True) as store:
        ingest([str(folder)], store)
        qa = QA(store, config)
        visit, _ = qa.ask("Which country did the president visit?", filters=Filters(as_of="2025-09-20"))
        ban, _ = qa.ask("How long is the opposition leader banned from office?", filters=Filters(as_of="2025-09-20"))
        boats, _ = qa.ask("How many lifeboats were launched?", filters=Filters(as_of="2025-09-20"))
        port, _ = qa.ask("When will the port reopen?", filters=Filters(as_of="2025-09-20"))
    assert short(visit) == "UK [1]" and visit.reader == "llm:scripted", visit.notes
    assert short(ban) == "5 years [1]" and ban.reader == "llm:scripted", ban.notes
    assert short(boats) == "12 [1]" and boats.reader == "llm:scripted", boats.notes  # a bare number, spelled out
    assert short(port) == "the port would reopen in May [1]" and len(port.citations) == 1  # not the question
    assert port.citations[0].quote.startswith("The harbour master said") and "is a question" in port.notes[0]


def test_a_question_about_the_present_is_not_answered_from_an_old_report_when_a_newer_one_was_given(
    qa: QA, llm: FakeOpenAI
):
    """As of 1 July 2015 the 27 April report (65 days old) is past ``answer.stale_after`` (60), the 3 May one
    (59 days) is not."""
    question, as_of = "What is the latest death toll of the Nepal earthquake?", Filters(as_of="2015-07-01")
    llm.replies.extend([cited("3,700 people", "3,700"), cited("more than 7,200 people", "7,200")])
    old, _ = qa.ask(question, filters=as_of)
    assert old.reader != "llm:scripted" and "7,200" in old.text  # the offline answer, which leads with the newest
    assert (
        old.notes[0]
        == "the reply cites only reports older than 60 days, though a newer one was given; answered offline"
    )
    current, _ = qa.ask(question, filters=as_of)
    assert current.reader == "llm:scripted" and short(current) == "more than 7,200 people [1]"


@pytest.mark.parametrize(
    "reply",
    [
        cited("Tripoli is governed by Khalifa Haftar", "self-declared"),  # a name its sentence does not hold
        cited("Libya Dawn seized the capital in 2015", "Libya Dawn"),  # the sentence says 2014
        cited("a government in exile", "army officers"),  # a real sentence about something else
        cited("Libya Shield", "Libya Dawn"),  # half of a name (a 1.5B model answered "New York" from "New Jersey")
        cited("a second, self-declared government", "army officers"),  # the right words, the wrong sentence
    ],
)
def test_an_answer_its_cited_sentences_do_not_support_falls_back(qa: QA, llm: FakeOpenAI, reply):
    llm.replies.append(reply)
    answer, _ = qa.ask("Who governs Tripoli?", filters=AS_OF)
    assert any("do not support" in note or "does not support" in note for note in answer.notes), answer.notes
    assert answer.notes[-1] == "no claim of the LLM's reply was supported; answered offline"
    assert answer.reader != "llm:scripted" and "self-declared" in answer.text  # the offline answer


def test_a_server_without_json_support_gets_plain_text_with_markers(web: WebServer, sample_store: Path):
    llm = FakeOpenAI(web, formats=())
    config = make_config(sample_store, llm={"provider": "openai", "base_url": llm.base_url, "model": "scripted"})
    marked = "Tripoli is governed by a self-declared government [{}]. It is in Libya."
    llm.replies.extend([lambda request: marked.format(sentence_number(request, "self-declared"))] * 2)
    with Store(config) as store:
        qa = QA(store, config)
        first, _ = qa.ask("Who governs Tripoli?", filters=AS_OF)
        second, _ = qa.ask("Who governs Tripoli?", filters=AS_OF)
        assert citations_valid(first, store)[0] == 1
    formats = [r.get("response_format", {}).get("type") for r in llm.requests]
    assert formats == ["json_schema", "json_object", None, None]  # refused twice, then asked plainly for good
    assert short(first) == short(second) == "Tripoli is governed by a self-declared government [1]."
    assert first.notes == ["removed an uncited claim: 'It is in Libya.'"]


def test_llama_cpp_style_servers_get_json_object_with_the_schema(web: WebServer, sample_store: Path):
    llm = FakeOpenAI(web, formats=("json_object",), refusal=500)  # llama-cpp-python's status for it
    config = make_config(sample_store, llm={"provider": "openai", "base_url": llm.base_url, "model": "scripted"})
    llm.replies.append(cited("a self-declared government", "self-declared"))
    with Store(config) as store:
        answer, _ = QA(store, config).ask("Who governs Tripoli?", filters=AS_OF)
    numbered = [line for line in prompt(llm).splitlines() if line.startswith("[")]
    assert len(numbered) == 5  # the defaults: the five best sentences, no neighbours
    assert short(answer) == "a self-declared government [1]"
    assert [r["response_format"]["type"] for r in llm.requests] == ["json_schema", "json_object"]
    assert llm.requests[-1]["response_format"]["schema"]["required"] == ["answer", "sentences"]


def test_a_stream_cut_off_midway_falls_back_to_the_offline_answer(qa: QA, llm: FakeOpenAI):
    llm.replies.append(CutOff('{"answer": "a second, self-declared gov'))
    drafts: list[str] = []
    answer, _ = qa.ask("Who governs Tripoli?", filters=AS_OF, on_text=drafts.append)
    assert drafts and drafts[-1] == "a second, self-declared gov"  # shown unchecked, then replaced
    assert answer.notes == [
        "LLM unavailable (CutOff: the reply stopped before the server finished it); answered offline"
    ]
    assert "self-declared" in answer.text and answer.citations and answer.reader != "llm:scripted"


def test_openai_itself_gets_its_owntoken_limit_name():
    assert token_limit(LlmSettings(base_url="", max_tokens=50)) == {"max_completion_tokens": 50}
    assert token_limit(LlmSettings(base_url="https://api.openai.com/v1", max_tokens=50)) == {
        "max_completion_tokens": 50
    }


def test_uncited_and_unsupported_claims_of_a_plain_reply_are_dropped(qa: QA, llm: FakeOpenAI):
    llm.replies.append(
        lambda request: (
            f"Tripoli is governed by a self-declared government [{sentence_number(request, 'self-declared')}]. "
            "The mayor owns three bakeries. "
            f"Pluto has a thick ocean of liquid nitrogen on its surface [{sentence_number(request, 'self-declared')}]."
        )
    )
    answer, _ = qa.ask("Who governs Tripoli?", filters=AS_OF)
    assert short(answer) == "Tripoli is governed by a self-declared government [1]."
    assert any("uncited claim" in note for note in answer.notes)
    assert any("do not support" in note and "Pluto" in note for note in answer.notes)
    assert citations_valid(answer, qa.store)[0] == len(answer.citations) == 1


@pytest.mark.parametrize(
    ("reply", "note"),
    [
        ("", "empty"),
        ("I think so, maybe.", "no claim"),
        ('{"answer": "Tripoli is gov', "malformed"),
        ('{"answer": 7, "sentences": [1]}', "malformed"),
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
    llm.replies.append('{"answer": "NOT IN ARTICLES", "sentences": []}')
    answer, _ = qa.ask("Who won the football match?")
    assert answer.abstained and answer.citations


def test_a_follow_up_is_rewritten_by_the_llm(qa: QA, llm: FakeOpenAI):
    llm.replies.extend(
        ["who backs the government that governs Tripoli", cited("former Gaddafi army officers", "army officers")]
    )
    history = [{"question": "Who governs Tripoli?", "answer": "A self-declared government."}]
    answer, _ = qa.ask("and who backs it?", history=history)
    assert answer.query == "who backs the government that governs Tripoli"
    assert "Who governs Tripoli?" in llm.requests[0]["messages"][-1]["content"]
    assert short(answer) == "former Gaddafi army officers [1]" and "backed by" in answer.citations[0].quote


@pytest.mark.parametrize("provider", ["nosuch", "ollama"])
def test_a_provider_langchain_cannot_build_is_a_configuration_error(provider: str):
    """An unknown provider, or one whose integration package is not installed (langchain-ollama is not a
    dependency), fails at start naming the key, not at the first question."""
    with pytest.raises(SettingsError, match=rf"llm.provider '{provider}'"):
        chat_model(LlmSettings(provider=provider, model="some-model"))
