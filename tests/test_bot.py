"""The real python-telegram-bot Application, polling a fake Bot API server on 127.0.0.1."""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from newsbot.bot.app import NewsBot, webhook_options
from newsbot.bot.render import split_message
from newsbot.bot.state import BotState, SqliteBotState, StoredAnswer
from newsbot.corpus.store import Store
from newsbot.ingest.pipeline import ingest
from newsbot.links import PassageLinks
from tests.conftest import SAMPLES, TELEGRAM_TOKEN, ChromaServer, WebServer, assert_consistent, free_port, make_config
from tests.fake_openai import FakeOpenAI, cited, sentence_number
from tests.fake_telegram import BOT_USER, FakeTelegram
from tests.feed_server import FeedServer, Page, article_page, rss
from tests.test_cli import newsbot_env, run
from tests.test_telegram_html import check

ADMIN, USER = 7001, 7002
pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


def build_store(path: Path) -> Path:
    with Store(make_config(path), write=True) as store:
        ingest([str(SAMPLES / "libya")], store)
    return path


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("bot") / "store")


@asynccontextmanager
async def running_bot(
    store_path: Path,
    fake: FakeTelegram,
    state_path: Path,
    config_sections: dict | None = None,
    links: PassageLinks | None = None,
    **telegram: object,
) -> AsyncIterator[NewsBot]:
    settings = {"base_url": fake.base_url, "base_file_url": fake.base_file_url, "admins": [ADMIN], **telegram}
    config = make_config(store_path, telegram=settings, **(config_sections or {}))
    store, state = Store(config), SqliteBotState(state_path)
    newsbot = NewsBot(config, store, state, links)
    app = newsbot.application(TELEGRAM_TOKEN)
    await app.initialize()
    await newsbot.startup(app)
    await app.start()
    if config.telegram.mode == "webhook":
        await app.updater.start_webhook(**webhook_options(config.telegram, "s3cret-token"))
    else:
        await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield newsbot
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        state.close()
        store.close()


def answer_with_button(fake: FakeTelegram) -> dict:
    return next(m for m in fake.requests("sendMessage") if m.get("reply_markup"))


async def test_private_question_gets_an_html_answer_then_its_sources(
    shared_store: Path, telegram: FakeTelegram, tmp_path: Path
):
    async with running_bot(shared_store, telegram, tmp_path / "bot.sqlite3"):
        commands = await telegram.wait_for("setMyCommands")
        assert {c["command"] for c in commands[0]["commands"]} >= {"ask", "source", "new", "help"}
        chat = telegram.chat(USER)
        question = await telegram.send(chat, USER, "Who controls Derna?")
        (sent,) = await telegram.wait_for("sendMessage")
        assert telegram.requests("sendChatAction")[0]["action"] == "typing"
        assert sent["parse_mode"] == "HTML" and "Majlis" in sent["text"] and "[1]" in sent["text"]
        assert sent["reply_parameters"]["message_id"] == question["message_id"]
        button = sent["reply_markup"]["inline_keyboard"][0][0]
        assert button["text"] == "Sources" and len(button["callback_data"].encode()) <= 64

        answer_message = {"message_id": 5555, "date": 0, "chat": chat, "from": BOT_USER, "text": sent["text"]}
        await telegram.press(USER, answer_message, button["callback_data"])
        await telegram.wait_for("answerCallbackQuery")
        sources = (await telegram.wait_for("sendMessage", 2))[1]
        assert "<blockquote expandable>" in sources["text"] and "<b>[1]" in sources["text"]
        assert "Majlis" in sources["text"]
        assert not sources.get("reply_markup")  # no Open buttons without web.public_url

        await telegram.send(chat, USER, "/source 1")
        single = (await telegram.wait_for("sendMessage", 3))[2]
        assert single["text"].startswith("<b>[1]") and "<blockquote expandable>" in single["text"]


async def test_groups_answer_only_when_mentioned_asked_or_replied_to(
    shared_store: Path, telegram: FakeTelegram, tmp_path: Path
):
    async with running_bot(shared_store, telegram, tmp_path / "bot.sqlite3"):
        group = telegram.chat(-100500, "group")
        await telegram.send(group, USER, "Who governs Tripoli?")  # chatter not addressed to the bot
        await telegram.send(group, USER, "@newsbot_test_bot who governs Tripoli?")
        (first,) = await telegram.wait_for("sendMessage")
        assert "Tripoli" in first["text"]
        await telegram.send(group, USER, "/ask Who controls Derna?")
        second = (await telegram.wait_for("sendMessage", 2))[1]
        assert "Derna" in second["text"]
        assert len(telegram.requests("sendMessage")) == 2
        await telegram.send(group, USER, "/ask")  # no question: how to ask, and nothing answered
        usage = (await telegram.wait_for("sendMessage", 3))[2]
        assert usage["text"] == "Ask like this: <code>/ask Who controls Derna?</code>"


async def test_a_reply_follows_up_and_new_starts_over(shared_store: Path, telegram: FakeTelegram, tmp_path: Path):
    async with running_bot(shared_store, telegram, tmp_path / "bot.sqlite3") as newsbot:
        chat = telegram.chat(USER)
        await telegram.send(chat, USER, "Who governs Tripoli?")
        (first,) = await telegram.wait_for("sendMessage")
        stored_first = newsbot.state.latest(USER)
        reply_to = {
            "message_id": stored_first.message_id,
            "date": 0,
            "chat": chat,
            "from": BOT_USER,
            "text": first["text"],
        }
        await telegram.send(chat, USER, "and when did they take over the capital?", reply_to=reply_to)
        await telegram.wait_for("sendMessage", 2)
        follow_up = newsbot.state.latest(USER)
        assert follow_up.conversation == stored_first.conversation
        assert "Libya Dawn" in follow_up.text

        await telegram.send(chat, USER, "/new")
        assert "New conversation" in (await telegram.wait_for("sendMessage", 3))[2]["text"]
        assert newsbot.state.conversation(USER) != stored_first.conversation


async def test_admins_ingest_uploads_and_urls_others_are_refused(
    telegram: FakeTelegram, tmp_path: Path, web: WebServer
):
    store_path = build_store(tmp_path / "store")
    hostile = b"The council <script>alert('x')</script> & the mayor agreed on a new harbour tax on Monday."
    web_on_loopback = {"ingest": {"allow_private_hosts": True}}
    async with running_bot(store_path, telegram, tmp_path / "bot.sqlite3", web_on_loopback):
        chat = telegram.chat(ADMIN)
        document = telegram.upload("file-1", "harbour.txt", hostile)
        await telegram.send(chat, ADMIN, document=document)
        (report,) = await telegram.wait_for("sendMessage")
        assert telegram.requests("getFile")[0]["file_id"] == "file-1"
        assert "Ingested harbour.txt: 1 new" in report["text"]
        corrected = hostile.replace(b"Monday", b"Tuesday")
        await telegram.send(chat, ADMIN, document=telegram.upload("file-1b", "harbour.txt", corrected))
        again = (await telegram.wait_for("sendMessage", 2))[1]
        assert "Ingested harbour.txt: 0 new, 1 updated" in again["text"]  # the same article, corrected
        with Store(make_config(store_path)) as store:
            uploads = [store.article(a) for a in store.article_ids(source=f"chat-{ADMIN}")]
        assert len(uploads) == 1 and "on Tuesday" in uploads[0].text

        web.routes["/story"] = (
            200,
            "text/html",
            b"<html><head><title>Ferry strike</title></head><body><article>"
            b"<p>Ferry crews walked out on Tuesday over pay, stranding hundreds of travellers."
            b"</p><p>The union said talks would resume next week.</p></article></body></html>",
        )
        await telegram.send(chat, ADMIN, web.url("/story"))
        url_report = (await telegram.wait_for("sendMessage", 3))[2]
        assert "1 new" in url_report["text"]

        other = telegram.chat(USER)
        await telegram.send(other, USER, document=telegram.upload("file-2", "x.txt", b"Some text here."))
        refusal = (await telegram.wait_for("sendMessage", 4))[3]
        assert refusal["text"] == "Sorry, adding articles is only for the bot's admins."

        await telegram.send(chat, ADMIN, "What did the council and the mayor agree on?")
        answer = (await telegram.wait_for("sendMessage", 5))[4]
        assert "&lt;script&gt;" in answer["text"] and "<script>" not in answer["text"]
        assert "&amp;" in answer["text"]


async def test_an_admin_url_naming_an_internal_address_is_refused(
    shared_store: Path, telegram: FakeTelegram, tmp_path: Path
):
    async with running_bot(shared_store, telegram, tmp_path / "bot.sqlite3"):
        await telegram.send(telegram.chat(ADMIN), ADMIN, "http://169.254.169.254/latest/meta-data/")
        (reply,) = await telegram.wait_for("sendMessage")
        assert "0 new" in reply["text"] and "1 failed" in reply["text"]
        assert "169.254.169.254 is a link-local address" in reply["text"]


async def until(condition: Callable[[], bool], what: str, seconds: float = 120) -> None:
    """Wait for something the bot does in the background (a deadline against hanging, not a timing check)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        await asyncio.sleep(0.1)


STORIES = {
    "a": "The harbour of the town reopened on Thursday after a storm closed it for a week.",
    "b": "Ferry crews walked out on Tuesday over pay, stranding hundreds of travellers at the port.",
    "c": "The council approved a new bridge over the river after two years of debate.",
}


class NewsSite(FeedServer):
    """A news site whose feed lists the stories asked for: a (harbour), b (ferry strike), c (bridge)."""

    def __init__(self) -> None:
        super().__init__()
        for name, sentence in STORIES.items():
            self.pages[f"/{name}"] = Page(body=article_page(f"Story {name}", sentence))

    def serve(self, names: str) -> None:
        items = [(f"Story {n}", self.url(f"/{n}"), "teaser") for n in names]
        self.pages["/feed"] = Page(kind="application/rss+xml", body=rss(*items), headers={"ETag": f'"{names}"'})


@pytest.fixture
def site() -> Iterator[NewsSite]:
    server = NewsSite()
    yield server
    server.close()


def feed_sections(site: NewsSite, **watch: object) -> dict:
    """Feeds due every second, looked at every 0.2 s, and a reader that sees other processes' writes at once."""
    return {
        "ingest": {"allowed_hosts": [site.host]},
        "watch": {"poll": 0.2, "every": "1s", **watch},
        "store": {"reopen_after": 0},
    }


async def test_admins_manage_feeds_which_the_bot_and_watch_refresh_on_one_store(
    telegram: FakeTelegram, tmp_path: Path, site: NewsSite
):
    site.serve("ab")
    store_path = tmp_path / "store"
    async with running_bot(store_path, telegram, tmp_path / "bot.sqlite3", feed_sections(site)) as newsbot:
        chat = telegram.chat(ADMIN)
        await telegram.send(chat, ADMIN, "/feed_add http://169.254.169.254/latest/feed")
        (refused,) = await telegram.wait_for("sendMessage")
        assert refused["text"].startswith("Not subscribed: refused http://169.254.169.254/latest/feed")
        await telegram.send(chat, ADMIN, f"/feed_add {site.url('/feed')}")
        added = (await telegram.wait_for("sendMessage", 2))[1]
        assert added["text"].startswith(f"Subscribed to {site.url('/feed')}")
        await until(lambda: len(newsbot.store.article_ids()) == 2, "the bot's first refresh")

        # `newsbot watch --once` in other processes takes turns with the bot's job on the same store.
        site.serve("cab")
        env = newsbot_env(store_path, NEWSBOT_INGEST__ALLOWED_HOSTS=json.dumps([site.host]))
        watched = await asyncio.gather(*(asyncio.to_thread(run, "watch", "--once", env=env) for _ in range(2)))
        assert all(done.returncode == 0 for done in watched), [done.stderr for done in watched]
        await until(lambda: len(newsbot.store.article_ids()) == 3, "story c")
        assert site.paths().count("/c") == 1 and site.paths().count("/a") == 1  # fetched once, stored once

        await telegram.send(chat, ADMIN, "/feeds")
        listing = (await telegram.wait_for("sendMessage", 3))[2]
        assert site.url("/feed") in listing["text"] and "3 added" in listing["text"]
        await telegram.send(chat, ADMIN, "Which bridge did the council approve?")
        answer = (await telegram.wait_for("sendMessage", 4))[3]
        assert "bridge over the river" in answer["text"]

        await telegram.send(telegram.chat(USER), USER, "/feeds")
        refusal = (await telegram.wait_for("sendMessage", 5))[4]
        assert refusal["text"] == "Sorry, managing feeds is only for the bot's admins."
        await telegram.send(chat, ADMIN, f"/feed_remove {site.url('/feed')}")
        removed = (await telegram.wait_for("sendMessage", 6))[5]
        assert removed["text"].startswith(f"Unsubscribed from {site.url('/feed')}")
    with Store(make_config(store_path)) as store:
        assert_consistent(store)
        assert store.feeds() == []


async def test_a_watched_question_alerts_its_chat_once_when_a_new_article_answers_it(
    telegram: FakeTelegram, tmp_path: Path, site: NewsSite
):
    site.serve("a")
    sections = feed_sections(site, max_questions_per_chat=1)
    sections["feeds"] = [{"url": site.url("/feed")}]  # seeded at start
    async with running_bot(tmp_path / "store", telegram, tmp_path / "bot.sqlite3", sections) as newsbot:
        store = newsbot.store
        await until(lambda: len(store.article_ids()) == 1, "the seeded feed's first refresh")
        chat = telegram.chat(USER)
        question = "Which bridge did the council approve?"
        await telegram.send(chat, USER, f"/watch {question}")
        (watching,) = await telegram.wait_for("sendMessage")
        assert watching["text"].startswith(f"Watching “{question}”")
        await telegram.send(chat, USER, "/watch Who reopened the harbour?")
        refused = (await telegram.wait_for("sendMessage", 2))[1]
        assert refused["text"].startswith("Not watching: already watching 1 questions")
        await telegram.send(chat, USER, "/watches")
        listed = (await telegram.wait_for("sendMessage", 3))[2]
        assert listed["text"].startswith(f"1. {question}")

        site.serve("ca")  # the answer arrives
        alert = (await telegram.wait_for("sendMessage", 4))[3]
        assert alert["chat_id"] == str(USER) and alert["text"].startswith("<b>New on your watched question</b>")
        assert "bridge over the river" in alert["text"]
        assert alert["reply_markup"]["inline_keyboard"][0][0]["text"] == "Sources"

        site.serve("bca")  # news, but nothing new on the question: no message
        await until(lambda: len(store.article_ids()) == 3, "the ferry story")
        await until(lambda: newsbot.checked_marker == store.articles_marker(), "the watches asked again")
        assert len(telegram.requests("sendMessage")) == 4

        await telegram.send(chat, USER, "/unwatch 1")
        done = (await telegram.wait_for("sendMessage", 5))[4]
        assert done["text"] == f"No longer watching “{question}”."


async def test_two_replicas_sharing_the_state_send_a_watch_alert_once(
    telegram: FakeTelegram, tmp_path: Path, site: NewsSite
):
    """Both replicas see the new article; one asks the watched question again. Both poll the same Bot API, so
    each update reaches both, and is answered once."""
    site.serve("a")
    sections = {**feed_sections(site), "feeds": [{"url": site.url("/feed")}]}
    replicas = [running_bot(tmp_path / "store", telegram, tmp_path / "bot.sqlite3", sections) for _ in range(2)]
    async with replicas[0] as first, replicas[1] as second:
        await until(lambda: len(first.store.article_ids()) == 1, "the seeded feed's first refresh")
        await telegram.send(telegram.chat(USER), USER, "/watch Which bridge did the council approve?")
        await telegram.wait_for("sendMessage")
        site.serve("ca")
        alert = (await telegram.wait_for("sendMessage", 2))[1]
        assert "bridge over the river" in alert["text"]
        marker = first.store.articles_marker
        await until(lambda: first.checked_marker == second.checked_marker == marker(), "both replicas' rechecks")
        assert len(telegram.requests("sendMessage")) == 2


async def test_a_429_is_waited_out_and_the_answer_still_arrives(
    shared_store: Path, telegram: FakeTelegram, tmp_path: Path
):
    telegram.rate_limit["sendMessage"] = 1
    async with running_bot(shared_store, telegram, tmp_path / "bot.sqlite3"):
        await telegram.send(telegram.chat(USER), USER, "Who controls Derna?")
        attempts = await telegram.wait_for("sendMessage", 2)
        assert attempts[0]["text"] == attempts[1]["text"] and "Majlis" in attempts[1]["text"]


async def test_sources_still_work_after_a_restart(shared_store: Path, telegram: FakeTelegram, tmp_path: Path):
    state_path = tmp_path / "bot.sqlite3"
    chat = telegram.chat(USER)
    async with running_bot(shared_store, telegram, state_path):
        await telegram.send(chat, USER, "Who governs Tripoli?")
        (sent,) = await telegram.wait_for("sendMessage")
    async with running_bot(shared_store, telegram, state_path):
        message = {"message_id": 7777, "date": 0, "chat": chat, "from": BOT_USER, "text": sent["text"]}
        await telegram.press(USER, message, sent["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
        sources = (await telegram.wait_for("sendMessage", 2))[1]
        assert "<blockquote expandable>" in sources["text"] and "Tripoli" in sources["text"]
        assert telegram.requests("answerCallbackQuery")


def test_long_answers_split_at_paragraphs_within_the_limit():
    paragraphs = [f"<b>[{i}] Title {i}</b>\n" + ("word " * 150).strip() for i in range(40)]
    html = "\n\n".join(paragraphs)
    pieces = split_message(html)
    assert len(pieces) > 1 and all(len(p) <= 4096 for p in pieces)
    assert "\n\n".join(pieces) == html
    assert all(p.count("<b>") == p.count("</b>") for p in pieces)


async def test_help_stats_delete_and_the_allow_list(telegram: FakeTelegram, tmp_path: Path):
    store_path = build_store(tmp_path / "store")
    async with running_bot(store_path, telegram, tmp_path / "bot.sqlite3", allowed_users=[USER]) as newsbot:
        await telegram.send(telegram.chat(USER), USER, "/help")
        (help_text,) = await telegram.wait_for("sendMessage")
        assert "2 news articles" in help_text["text"] and "2015-06-14 to 2015-06-15" in help_text["text"]

        await telegram.send(telegram.chat(USER), USER, "/stats")
        refused_stats = (await telegram.wait_for("sendMessage", 2))[1]["text"]
        assert refused_stats == "Sorry, /stats is only for the bot's admins."

        stranger = telegram.chat(9999)
        await telegram.send(stranger, 9999, "Who controls Derna?")
        await telegram.send(stranger, 9999, "Hello again?")
        (refusal,) = [m for m in await telegram.wait_for("sendMessage", 3) if m["chat_id"] in (9999, "9999")]
        assert refusal["text"] == "Sorry, this bot is private."

        admin = telegram.chat(ADMIN)
        await telegram.send(admin, ADMIN, "/stats")
        assert "2 articles" in (await telegram.wait_for("sendMessage", 4))[3]["text"]
        article_id = newsbot.store.article_ids()[0]
        await telegram.send(admin, ADMIN, f"/delete {article_id}")
        assert f"Deleted article {article_id}" in (await telegram.wait_for("sendMessage", 5))[4]["text"]
        assert newsbot.store.article(article_id) is None
        assert len([m for m in telegram.requests("sendMessage") if str(m["chat_id"]) == "9999"]) == 1


async def test_a_slow_question_does_not_hold_up_another_chat(
    shared_store: Path, telegram: FakeTelegram, tmp_path: Path, web: WebServer
):
    llm = FakeOpenAI(web)
    llm.replies.extend([8.0, cited("Libya Dawn", "Libya Dawn")])  # the first question's answer is slow
    settings = {"llm": {"provider": "openai", "base_url": llm.base_url, "model": "scripted", "timeout": 10}}
    async with running_bot(shared_store, telegram, tmp_path / "bot.sqlite3", config_sections=settings):
        await telegram.send(telegram.chat(USER), USER, "Who controls Derna?")
        await llm_requests(llm, 1)
        await telegram.send(telegram.chat(ADMIN), ADMIN, "Who took over the capital?")
        first = await with_sources(telegram)
        assert str(first["chat_id"]) == str(ADMIN) and first["text"].startswith("Libya Dawn [1]")
        second = await with_sources(telegram, 2)
        assert str(second["chat_id"]) == str(USER)


async def with_sources(fake: FakeTelegram, count: int = 1, timeout: float = 60) -> dict:
    """The ``count``th message sent or edited with the Sources button (an answer's last), once it has come."""
    deadline = time.monotonic() + timeout
    while True:
        done = [p for p in answer_messages(fake) if has_sources(p)]
        if len(done) >= count:
            return done[count - 1]
        assert time.monotonic() < deadline, f"{len(done)} answers with a Sources button, expected {count}"
        await asyncio.sleep(0.02)


def answer_messages(fake: FakeTelegram) -> list[dict]:
    """Every message the bot sent or edited, in order."""
    return [call.params for call in fake.calls if call.method in ("sendMessage", "editMessageText")]


def has_sources(params: dict) -> bool:
    rows = (params.get("reply_markup") or {}).get("inline_keyboard") or [[{}]]
    return rows[0][0].get("text") == "Sources"


async def test_an_llm_answer_streams_into_a_draft_edited_into_the_checked_answer_with_sources(
    shared_store: Path, telegram: FakeTelegram, tmp_path: Path, web: WebServer
):
    llm = FakeOpenAI(web, chunk_delay=0.1)
    claim = "Libya Dawn, a coalition of former rebel units and Islamist-leaning brigades"
    llm.replies.append(cited(claim, "Libya Dawn"))
    settings = {"llm": {"provider": "openai", "base_url": llm.base_url, "model": "scripted", "timeout": 10}}
    async with running_bot(shared_store, telegram, tmp_path / "bot.sqlite3", config_sections=settings) as newsbot:
        chat = telegram.chat(USER)
        question = await telegram.send(chat, USER, "Who seized the capital?")
        final = await with_sources(telegram)
        (draft,) = telegram.requests("sendMessage")  # the first words, in reply to the question
        assert draft["reply_parameters"]["message_id"] == question["message_id"] and not draft.get("reply_markup")
        assert draft["text"].startswith("<i>Unchecked draft") and "Libya" in draft["text"]
        edits = telegram.requests("editMessageText")
        assert final is edits[-1] and final["text"].startswith(f"{claim} [1]\n")  # checked, the mark gone
        assert all(e["text"].startswith("<i>Unchecked draft") for e in edits[:-1])
        stored = await recorded_message(newsbot.state, USER)
        assert {int(e["message_id"]) for e in edits} == {stored.message_id}  # one message, edited
        answer_message = {"message_id": stored.message_id, "date": 0, "chat": chat, "from": BOT_USER}
        await telegram.press(USER, answer_message, final["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
        sources = (await telegram.wait_for("sendMessage", 2))[1]
        assert "Libya Dawn, a coalition of former rebel units" in sources["text"]


async def recorded_message(state: BotState, chat_id: int, timeout: float = 10) -> StoredAnswer:
    """The chat's latest answer once the bot has recorded the message that carries it (it does so after
    Telegram has confirmed the final edit, which the test may see first)."""
    deadline = time.monotonic() + timeout
    while (stored := state.latest(chat_id)) is None or stored.message_id is None:
        assert time.monotonic() < deadline, "the answer's message was never recorded"
        await asyncio.sleep(0.02)
    return stored


async def llm_requests(llm: FakeOpenAI, count: int) -> None:
    while len(llm.requests) < count:
        await asyncio.sleep(0.02)


async def test_a_failing_question_gets_an_apology_and_the_bot_keeps_going(
    telegram: FakeTelegram, tmp_path: Path, chroma_server: ChromaServer
):
    vectors = {"store": {"chroma": {"mode": "http", "host": "127.0.0.1", "port": chroma_server.port}}}
    store_path = tmp_path / "store"
    with Store(make_config(store_path, **vectors), write=True) as store:
        ingest([str(SAMPLES / "libya")], store)
    async with running_bot(store_path, telegram, tmp_path / "bot.sqlite3", config_sections=vectors):
        chat = telegram.chat(USER)
        await telegram.send(chat, USER, "Who controls Derna?")
        assert "Majlis" in (await telegram.wait_for("sendMessage"))[0]["text"]
        chroma_server.stop()  # the vector server goes away under the running bot
        await telegram.send(chat, USER, "Who governs Tripoli?")
        apology = (await telegram.wait_for("sendMessage", 2))[1]
        assert apology["text"] == "Sorry, something went wrong with that. Please try again."
        await telegram.send(chat, USER, "/help")
        assert "news articles" in (await telegram.wait_for("sendMessage", 3))[2]["text"]


async def test_a_long_answer_is_split_at_paragraphs_with_the_button_on_the_last_piece(
    shared_store: Path, telegram: FakeTelegram, tmp_path: Path, web: WebServer
):
    llm = FakeOpenAI(web)
    claim = "Tripoli is governed by a second, self-declared government [{}]."
    llm.replies.append(
        lambda request: "\n\n".join(
            " ".join([claim.format(sentence_number(request, "self-declared"))] * 8) for _ in range(15)
        )
    )
    settings = {"llm": {"provider": "openai", "base_url": llm.base_url, "model": "scripted", "timeout": 10}}
    async with running_bot(shared_store, telegram, tmp_path / "bot.sqlite3", config_sections=settings):
        await telegram.send(telegram.chat(USER), USER, "Who governs Tripoli?")
        last = await with_sources(telegram)
        pieces = answer_messages(telegram)
        checked = pieces[pieces.index(last) - 1 :]  # the draft edited into the first piece, then the second
        assert all(len(p["text"]) <= 4096 for p in pieces) and len(checked) == 2
        assert checked[0]["text"].startswith("Tripoli is governed") and not checked[0].get("reply_markup")


async def test_webhook_mode_takes_updates_that_carry_the_secret_only(
    shared_store: Path, telegram: FakeTelegram, tmp_path: Path
):
    port = free_port()
    hook = {"mode": "webhook", "webhook_url": "https://bot.example.org/newsbot-hook", "webhook_port": port}
    async with running_bot(shared_store, telegram, tmp_path / "bot.sqlite3", **hook):
        (registered,) = await telegram.wait_for("setWebhook")
        assert registered["url"] == hook["webhook_url"] and registered["secret_token"] == "s3cret-token"
        update = webhook_update(1, telegram.chat(USER), "Who controls Derna?")
        local = f"http://127.0.0.1:{port}/newsbot-hook"
        async with httpx.AsyncClient() as client:
            forged = await client.post(local, json=update)
            genuine = await client.post(local, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"})
        assert forged.status_code == 403 and genuine.status_code == 200
        (answer,) = await telegram.wait_for("sendMessage")
        assert "Majlis" in answer["text"]
        assert len(telegram.requests("sendMessage")) == 1


async def test_an_update_delivered_twice_is_answered_once(shared_store: Path, telegram: FakeTelegram, tmp_path: Path):
    """Telegram (or a load balancer) retries a delivery it saw no 200 for: the second copy is dropped."""
    port = free_port()
    hook = {"mode": "webhook", "webhook_url": "https://bot.example.org/newsbot-hook", "webhook_port": port}
    chat = telegram.chat(USER)
    async with running_bot(shared_store, telegram, tmp_path / "bot.sqlite3", **hook):
        await telegram.wait_for("setWebhook")
        headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
            for update in (webhook_update(1, chat, "Who controls Derna?"),) * 2 + (
                webhook_update(2, chat, "Who governs Tripoli?"),
            ):
                assert (await client.post("/newsbot-hook", json=update)).status_code == 200
            answers = await telegram.wait_for("sendMessage", 2)
    # the chat's questions are answered in turn: a second answer to update 1 would have come before update 2's
    assert [a["reply_parameters"]["message_id"] for a in answers] == [1, 2]
    assert "Majlis" in answers[0]["text"] and "Tripoli" in answers[1]["text"]
    assert len(telegram.requests("sendMessage")) == 2


def webhook_update(update_id: int, chat: dict, text: str) -> dict:
    """An update as Telegram posts it to a webhook: message ``update_id`` of ``chat``, sent now."""
    message = {
        "message_id": update_id,
        "date": int(time.time()),  # the bot answers as of the message's day
        "chat": chat,
        "text": text,
        "from": {"id": chat["id"], "is_bot": False, "first_name": "u"},
    }
    return {"update_id": update_id, "message": message}


async def test_hostile_articles_reach_telegram_as_valid_messages_within_the_limit(
    telegram: FakeTelegram, tmp_path: Path
):
    """Every text the bot sends, through the real Bot API client, parses as Telegram HTML within 4,096 UTF-16
    units: a 5,600-character title, ampersands and emoji by the thousand in the cited sentences."""
    hostile = {
        "id": "hostile-harbour",
        "title": "Harbour <b>council</b> & ferries " * 175,
        "source": "riverton-gazette",
        "published": "2025-03-03",
        "text": "The harbour council decided that the ferries will run every hour "
        + "R&D " * 800
        + "from Monday.\n\nThe ferry union welcomed the harbour council decision "
        + "\U0001f6a2" * 2500
        + " on Tuesday.",
    }
    source = tmp_path / "hostile.jsonl"
    source.write_text(json.dumps(hostile) + "\n", encoding="utf-8")
    store_path = tmp_path / "store"
    with Store(make_config(store_path), write=True) as store:
        ingest([str(source)], store)
    async with running_bot(store_path, telegram, tmp_path / "bot.sqlite3"):
        chat = telegram.chat(USER)
        await telegram.send(chat, USER, "What did the harbour council decide about the ferries?")
        await telegram.wait_for("sendMessage")
        sent = answer_with_button(telegram)
        button = sent["reply_markup"]["inline_keyboard"][0][0]
        answer_message = {"message_id": 5555, "date": 0, "chat": chat, "from": BOT_USER, "text": sent["text"]}
        await telegram.press(USER, answer_message, button["callback_data"])
        await telegram.wait_for("answerCallbackQuery")
        await telegram.send(chat, USER, "/source 1")
        await asyncio.sleep(2)  # every piece of the sources and of /source 1 sent
        texts = [m["text"] for m in telegram.requests("sendMessage")]
    assert len(texts) >= 3
    seen = check(texts)
    assert "ferries will run every hour" in seen and "R&D " * 20 in seen
