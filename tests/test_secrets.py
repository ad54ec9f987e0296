"""No secret in any output: each of TELEGRAM_BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET and OPENAI_API_KEY meets a
loopback server that refuses it (401/403) and echoes it back, and nothing the command prints or logs holds it."""

import io
import json
import logging
from pathlib import Path

import pytest

from newsbot.redaction import MASK, RedactingStream, Redactor
from tests.conftest import SAMPLES, WebServer, free_port
from tests.test_cli import newsbot_env, run

TOKEN = "123456789:AAHsecretTOKENvalue_for-tests"
WEBHOOK_SECRET = "webhook-SECRET-value-for-tests"
API_KEY = "sk-test-SECRETAPIKEYvalue0123456789"
BOT_USER = {"id": 1, "is_bot": True, "first_name": "NewsBot", "username": "newsbot_test_bot"}


def refusal(code: int, secret: str) -> tuple[int, str, bytes]:
    body = {"ok": False, "error_code": code, "description": f"Unauthorized: {secret} is not valid"}
    return code, "application/json", json.dumps(body).encode()


def assert_clean(done, secret: str) -> None:
    for stream in (done.stdout, done.stderr):
        assert secret not in stream
        assert secret.split(":")[-1][:12] not in stream  # no part of it either


def test_a_refused_bot_token_ends_in_one_line_without_the_token(web: WebServer, tmp_path: Path):
    web.routes[f"/bot{TOKEN}/getMe"] = refusal(401, TOKEN)
    env = newsbot_env(tmp_path / "store", TELEGRAM_BOT_TOKEN=TOKEN, NEWSBOT_TELEGRAM__BASE_URL=web.url("/bot"))
    done = run("bot", env=env)
    assert_clean(done, TOKEN)
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("newsbot: error:")]
    assert len(errors) == 1 and "TELEGRAM_BOT_TOKEN" in errors[0]
    assert "Traceback" not in done.stderr


def test_an_unreachable_bot_api_is_waited_for_then_named_in_one_line(tmp_path: Path):
    closed = f"http://127.0.0.1:{free_port()}/bot"  # nothing listens there
    wait = {"NEWSBOT_TELEGRAM__BASE_URL": closed, "NEWSBOT_TELEGRAM__START_WAIT": "2"}
    env = newsbot_env(tmp_path / "store", TELEGRAM_BOT_TOKEN=TOKEN, **wait)
    done = run("bot", env=env)
    assert_clean(done, TOKEN)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"waiting for the Telegram Bot API at {closed}" in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("newsbot: error:")]
    assert len(errors) == 1 and "cannot be reached" in errors[0] and "gave up after 2 s" in errors[0]


def test_a_refused_webhook_keeps_its_secret(web: WebServer, tmp_path: Path):
    web.routes[f"/bot{TOKEN}/getMe"] = (200, "application/json", json.dumps({"ok": True, "result": BOT_USER}).encode())
    for method in ("setMyCommands", "deleteWebhook", "getWebhookInfo"):  # what start-up asks before the webhook
        web.routes[f"/bot{TOKEN}/{method}"] = (200, "application/json", b'{"ok": true, "result": true}')
    web.routes[f"/bot{TOKEN}/setWebhook"] = refusal(403, WEBHOOK_SECRET)
    env = newsbot_env(
        tmp_path / "store",
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
        NEWSBOT_TELEGRAM__BASE_URL=web.url("/bot"),
        NEWSBOT_TELEGRAM__MODE="webhook",
        NEWSBOT_TELEGRAM__WEBHOOK_URL="https://bot.example.org/telegram",
        NEWSBOT_TELEGRAM__WEBHOOK_PORT=str(free_port()),
    )
    done = run("bot", env=env)
    assert_clean(done, WEBHOOK_SECRET)
    assert_clean(done, TOKEN)
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("newsbot: error:")]
    assert len(errors) == 1 and "Telegram" in errors[0] and "Traceback" not in done.stderr


def test_an_llm_that_refuses_and_echoes_the_api_key_never_shows_it(web: WebServer, tmp_path: Path):
    body = {"error": {"message": f"Incorrect API key provided: {API_KEY}", "type": "invalid_request_error"}}
    web.routes["/v1/chat/completions"] = (401, "application/json", json.dumps(body).encode())
    env = newsbot_env(
        tmp_path / "store",
        OPENAI_API_KEY=API_KEY,
        NEWSBOT_LLM__PROVIDER="openai",
        NEWSBOT_LLM__BASE_URL=web.url("/v1"),
        NEWSBOT_LLM__MODEL="scripted",
    )
    assert run("ingest", str(SAMPLES / "libya"), "--quiet", env=env).returncode == 0
    for args in (["ask", "Who controls Derna?"], ["ask", "Who controls Derna?", "--json"]):
        done = run(*args, env=env)
        assert done.returncode == 0, done.stderr
        assert_clean(done, API_KEY)
        assert "LLM unavailable" in done.stdout and "Majlis" in done.stdout  # answered offline, and said why


def test_log_records_and_their_tracebacks_are_redacted():
    redactor = Redactor([TOKEN, "short"])
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(redactor)
    logger = logging.getLogger("tests.secrets")
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError(f"https://api.telegram.org/bot{TOKEN}/getMe failed")
        except RuntimeError:
            logger.exception("request to %s failed", f"/bot{TOKEN.replace(':', '%3A')}/getMe")
    finally:
        logger.removeHandler(handler)
    logged = out.getvalue()
    assert TOKEN not in logged and TOKEN.replace(":", "%3A") not in logged
    assert logged.count(MASK) == 2 and "RuntimeError" in logged
    stream = io.StringIO()
    wrapped = RedactingStream(stream, redactor)
    wrapped.write(f"token {TOKEN[:10]}")  # a secret written in pieces is still caught
    wrapped.write(f"{TOKEN[10:]} and a short word\n")
    assert stream.getvalue() == f"token {MASK} and a short word\n"  # values under 6 characters are not masked


pytestmark = pytest.mark.e2e
