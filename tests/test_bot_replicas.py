"""Two `newsbot bot` replicas in webhook mode behind a proxy that alternates requests between them, the loopback
Bot API delivering updates to the proxy as Telegram does: whichever replica an update reaches answers it, once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from newsbot.bot.render import text_html
from newsbot.bot.state import BotState, StoredAnswer, open_bot_state
from newsbot.corpus.store import Store
from newsbot.ingest.pipeline import ingest
from tests.bot_replicas import HOOK_PATH, AlternatingProxy, start_replicas, webhook_env
from tests.conftest import SAMPLES, ChromaServer, make_config
from tests.fake_telegram import FakeTelegram
from tests.test_bot import until
from tests.test_cli import newsbot_env

USER = 7002
MENTION = "@newsbot_test_bot "
pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


@pytest.fixture(params=["sqlite", "postgres"])
def deployment(
    request: pytest.FixtureRequest, tmp_path: Path, chroma_server: ChromaServer, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, str], Callable[[], BotState]]:
    """The bundled Libya samples in a store whose vectors are on a `chroma run` server, its registry and the bot's
    state in the store folder that both replicas share (sqlite), or in PostgreSQL (the server profile): the
    replicas' environment, and how to open the state they share."""
    store_path = tmp_path / "store"
    env = {
        "NEWSBOT_STORE__BACKEND": request.param,
        "NEWSBOT_STORE__CHROMA__MODE": "http",
        "NEWSBOT_STORE__CHROMA__HOST": "127.0.0.1",
        "NEWSBOT_STORE__CHROMA__PORT": str(chroma_server.port),
    }
    chroma = {"mode": "http", "host": "127.0.0.1", "port": chroma_server.port}
    config = make_config(store_path, store={"backend": request.param, "chroma": chroma})
    if request.param == "postgres":
        env["NEWSBOT_STORE__POSTGRES__DSN"] = request.getfixturevalue("postgres_dsn")
        monkeypatch.setenv("NEWSBOT_STORE__POSTGRES__DSN", env["NEWSBOT_STORE__POSTGRES__DSN"])
    with Store(config, write=True) as store:
        assert ingest([str(SAMPLES / "libya")], store).ok
    return newsbot_env(store_path, **env), lambda: open_bot_state(config, store_path)


@pytest.fixture
async def proxy(
    deployment: tuple[dict[str, str], Callable[[], BotState]], telegram: FakeTelegram, tmp_path: Path
) -> AsyncIterator[AlternatingProxy]:
    """Two replicas behind the proxy; Telegram delivers to the proxy."""
    env = webhook_env(deployment[0], telegram.base_url, telegram.base_file_url)
    bots, proxy = await asyncio.to_thread(start_replicas, 2, env, tmp_path)
    yield proxy
    for bot in bots:
        await asyncio.to_thread(bot.stop)
    proxy.close()


def answers_to(telegram: FakeTelegram, message: dict) -> list[dict]:
    return [
        sent
        for sent in telegram.requests("sendMessage")
        if sent.get("reply_parameters", {}).get("message_id") == message["message_id"]
    ]


async def test_replicas_share_sources_and_follow_ups_and_answer_each_update_once(
    proxy: AlternatingProxy, telegram: FakeTelegram, deployment: tuple[dict[str, str], Callable[[], BotState]]
):
    assert telegram.webhook is not None and telegram.webhook["url"] == proxy.url(HOOK_PATH)
    group = telegram.chat(-100777, "group")
    state = deployment[1]()

    async def stored_answer() -> StoredAnswer:
        """The answer last sent, once its replica has stored which message holds it."""
        message_id = max(telegram.sent)
        await until(lambda: state.by_message(group["id"], message_id) is not None, "the answer stored")
        return state.by_message(group["id"], message_id)

    await telegram.send(group, USER, MENTION + "Who governs Tripoli?")
    await telegram.wait_for("sendMessage")
    first = await stored_answer()
    # a group's follow-up replies to an answer: the other replica must find that answer to take it up
    follow_up = "and when did they take over the capital?"
    await telegram.send(group, USER, follow_up, reply_to=telegram.sent[first.message_id])
    second_message = (await telegram.wait_for("sendMessage", 2))[1]
    second = await stored_answer()
    state.close()
    assert second.question == follow_up and second.conversation == first.conversation

    button = second_message["reply_markup"]["inline_keyboard"][0][0]
    await telegram.press(USER, telegram.sent[second.message_id], button["callback_data"])
    await telegram.wait_for("answerCallbackQuery")
    sources = (await telegram.wait_for("sendMessage", 3))[2]
    assert "<blockquote expandable>" in sources["text"] and "<b>[1]" in sources["text"]
    assert text_html(second.citations[0].quote) in sources["text"]
    # question, follow-up, press: each reached the replica that had not answered the one before
    assert [replica for replica, _ in proxy.routed] == [0, 1, 0]

    # the same update delivered to both replicas is answered once; each replica then answers one more question
    # of the chat, which it takes after the copy (a chat's questions are answered in turn)
    twice = await telegram.send(group, USER, MENTION + "Who controls Derna?")
    await telegram.redeliver(telegram.pushed[-1])
    later = [await telegram.send(group, USER, MENTION + text) for text in ("Who governs Tripoli?", "Who rules Derna?")]
    await until(lambda: all(answers_to(telegram, message) for message in later), "both answers")
    assert len(answers_to(telegram, twice)) == 1 and "Majlis" in answers_to(telegram, twice)[0]["text"]
    assert [replica for replica, _ in proxy.routed[3:]] == [1, 0, 1, 0]
    assert all(status == 200 for _, status in telegram.deliveries)
