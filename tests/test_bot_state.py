"""The bot's state on both backends: a SQLite file and a real PostgreSQL server, each opened twice as two
replicas of the bot would open it."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from newsbot.bot.pg_state import SCHEMA, PostgresBotState
from newsbot.bot.state import CLAIM_RETENTION, BotState, SqliteBotState, open_bot_state
from newsbot.records import Answer, Citation
from tests.conftest import make_config

GROUP = -1001234567890  # supergroup ids need 64 bits
Opener = Callable[[], BotState]


@pytest.fixture(params=["sqlite", "postgres"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens the same state again at each call (as each replica does); closes them all at the end."""
    opened: list[BotState] = []

    def open_state() -> BotState:
        if request.param == "sqlite":
            state: BotState = SqliteBotState(tmp_path / "bot.sqlite3")
        else:
            state = PostgresBotState(request.getfixturevalue("postgres_dsn"))
        opened.append(state)
        return state

    yield open_state
    for state in opened:
        state.close()


def answer(text: str) -> Answer:
    citation = Citation(1, "a1", "Derna news", "libya", "2025-01-10", None, 0, 5, "Derna")
    return Answer(text=text, abstained=False, citations=[citation])


def test_an_answer_saved_by_one_replica_is_found_by_another(opener: Opener):
    first, second = opener(), opener()
    conversation = first.conversation(GROUP)
    key = first.save(GROUP, conversation, "Who controls Derna?", answer("The Majlis [1]."))
    first.attach_message(key, 5001)
    for state in (first, second):
        stored = state.by_key(key)
        assert stored is not None and stored.citations[0].quote == "Derna" and stored.chat_id == GROUP
        assert state.by_message(GROUP, 5001) == stored == state.latest(GROUP)
        assert state.conversation(GROUP) == conversation
    assert second.by_key("missing") is None and second.by_message(GROUP, 1) is None


def test_a_conversation_is_shared_until_new_and_its_history_is_in_order(opener: Opener):
    first, second = opener(), opener()
    conversation = first.conversation(7)
    for n in range(4):
        (first if n % 2 else second).save(7, conversation, f"question {n}", answer(f"answer {n}"))
    assert [turn["question"] for turn in second.history(conversation)] == ["question 1", "question 2", "question 3"]
    fresh = second.new_conversation(7)
    assert fresh != conversation and first.conversation(7) == fresh and first.history(fresh) == []


def test_each_claim_is_won_once_among_replicas_and_threads(opener: Opener):
    replicas = [opener(), opener()]
    names = [str(n) for n in range(200)]

    def claim_all(index: int) -> list[str]:
        return [name for name in names if replicas[index % 2].claim("update", name)]

    with ThreadPoolExecutor(8) as pool:
        won = [name for names_won in pool.map(claim_all, range(8)) for name in names_won]
    assert sorted(won, key=int) == names
    assert replicas[0].claim("refused", "1") and not replicas[1].claim("refused", "1")
    replicas[1].release("refused", "1")
    assert replicas[1].claim("refused", "1") and not replicas[0].claim("refused", "1")


def test_a_claim_older_than_the_retention_is_forgotten(tmp_path: Path, postgres_dsn: str):
    old = time.time() - CLAIM_RETENTION - 60
    SqliteBotState(tmp_path / "bot.sqlite3").close()
    with sqlite3.connect(tmp_path / "bot.sqlite3") as db:
        db.execute("INSERT INTO claims VALUES ('update', '1', ?), ('update', '2', ?)", (old, time.time()))
    PostgresBotState(postgres_dsn).close()
    with psycopg.connect(postgres_dsn) as db:
        db.execute(f"INSERT INTO {SCHEMA}.claims VALUES ('update', '1', %s), ('update', '2', %s)", (old, time.time()))
    for state in (SqliteBotState(tmp_path / "bot.sqlite3"), PostgresBotState(postgres_dsn)):
        assert state.claim("update", "1") and not state.claim("update", "2")
        state.close()


def test_replicas_starting_together_make_the_postgres_tables_once(postgres_dsn: str):
    with ThreadPoolExecutor(4) as pool:
        states = list(pool.map(lambda _: PostgresBotState(postgres_dsn), range(4)))
    key = states[0].save(1, "c", "q", answer("a"))
    assert all(state.by_key(key) is not None for state in states)
    for state in states:
        state.close()


def test_a_broken_postgres_connection_is_replaced(postgres_dsn: str):
    state = PostgresBotState(postgres_dsn)
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
    with pytest.raises(psycopg.OperationalError):
        state.conversation(1)
    assert state.claim("update", "1")  # the next statement reconnects
    state.close()


def test_the_backend_setting_picks_the_state(tmp_path: Path, postgres_dsn: str, monkeypatch: pytest.MonkeyPatch):
    sqlite = open_bot_state(make_config(tmp_path / "store"), tmp_path)
    assert isinstance(sqlite, SqliteBotState) and (tmp_path / "bot.sqlite3").is_file()
    sqlite.close()
    monkeypatch.setenv("NEWSBOT_STORE__POSTGRES__DSN", postgres_dsn)
    server = make_config(tmp_path / "store", store={"backend": "postgres", "chroma": {"mode": "http"}})
    postgres = open_bot_state(server, tmp_path)
    assert isinstance(postgres, PostgresBotState)
    postgres.close()
