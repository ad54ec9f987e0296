"""`newsbot serve` over HTTP: passage pages, the JSON API, admin writes, signing, rate limits and Telegram's Open
buttons, against the real server on 127.0.0.1 with the real store and model."""

import dataclasses
import socket
import subprocess
import sys
from html import escape
from pathlib import Path

import httpx
import pytest

from newsbot.corpus.store import Store
from newsbot.records import Answer, Citation
from tests.conftest import ROOT, TELEGRAM_TOKEN, WebServer, make_config
from tests.fake_telegram import BOT_USER, FakeTelegram
from tests.newsbot_serve import ADMIN_TOKEN, Served, start_server
from tests.test_bot import USER, running_bot
from tests.test_cli import newsbot_env

pytestmark = pytest.mark.e2e
DERNA = "Who controls Derna?"


def ask(served: Served, question: str = DERNA, **params: str) -> httpx.Response:
    return httpx.get(f"{served.base}/api/ask", params={"q": question, **params}, timeout=120)


def stored_text(served: Served, article_id: str) -> str:
    with Store(make_config(served.store_path)) as store:
        return store.article(article_id).text


def test_the_derna_answers_passage_pages_mark_the_quote_inside_its_article(served: Served):
    answer = ask(served).json()
    assert "Majlis" in answer["text"] and answer["citations"]
    for citation in answer["citations"]:
        page = httpx.get(citation["passage_url"])
        assert page.status_code == 200, page.text
        text = stored_text(served, citation["article_id"])
        before, after = text[: citation["start"]], text[citation["end"] :]
        quote = escape(citation["quote"])
        marked = f'<div class="text">{escape(before)}<mark id="q">{quote}</mark>{escape(after)}</div>'
        assert marked in page.text  # the whole stored article, the quote highlighted in place
        assert "says exactly the quoted words" in page.text and escape(citation["title"]) in page.text
        assert citation["passage_url"].endswith("#q")  # the page opens scrolled to the mark
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "unsafe-inline" not in policy and "script-src" not in policy
        assert page.headers["referrer-policy"] == "no-referrer"


def test_api_ask_is_the_cli_answer_object_with_verbatim_quotes_and_signed_links(served: Served):
    answer = ask(served, as_of="2015-06-14").json()
    assert set(answer) == {f.name for f in dataclasses.fields(Answer)}
    assert answer["as_of"] == "2015-06-14" and answer["query"] == DERNA and not answer["abstained"]
    assert answer["citations"]
    for citation in answer["citations"]:
        assert set(citation) == {f.name for f in dataclasses.fields(Citation)} | {"passage_url"}
        assert stored_text(served, citation["article_id"])[citation["start"] : citation["end"]] == citation["quote"]
        assert citation["published"] <= "2015-06-14"  # the later explainer does not exist yet
        assert "sig=" in citation["passage_url"]
    other = ask(served, source="no-such-source").json()
    assert other["abstained"] and not other["citations"]

    for params, named in (({"since": "last Tuesday-ish"}, "since"), ({"as_of": "2015-13-45"}, "as_of")):
        refused = ask(served, **params)
        assert refused.status_code == 400 and refused.json()["error"].startswith(f"{named}: not a date")
    assert httpx.get(f"{served.base}/api/ask").json()["error"].startswith("q:")
    assert ask(served, " ").json() == {"error": "q: the question is empty"}


def test_passage_links_outside_the_article_or_not_signed_by_the_server_are_refused(served: Served):
    article_id = served.article_with("An Islamist coalition")
    text = stored_text(served, article_id)
    quote = "Islamic State"
    good = served.span_url(article_id, quote)
    assert httpx.get(good).status_code == 200
    path, query = good.split("#")[0].split("?")
    signature = query.split("sig=")[1]
    tampered = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    assert httpx.get(f"{path}?sig={tampered}").status_code == 403
    assert httpx.get(path).status_code == 403
    start = text.index(quote)
    widened = f"{served.base}/p/{article_id}:{start}-{start + len(quote) + 40}?sig={signature}"
    refused = httpx.get(widened)  # another span under the first one's signature
    assert refused.status_code == 403 and "not signed by this server" in refused.text

    outside = served.links.url(article_id, len(text) - 5, len(text) + 50)
    page = httpx.get(outside)
    assert page.status_code == 409 and f"lies outside article {article_id}" in page.text
    unknown = httpx.get(served.links.url("0123456789abcdef", 0, 10))
    assert unknown.status_code == 404 and "no stored article has id 0123456789abcdef" in unknown.text

    changed = httpx.get(served.links.url(article_id, start, start + len(quote), "Islamic state"))
    assert changed.status_code == 409 and "is not what was quoted" in changed.text
    checked = httpx.get(f"{path}?sig={signature}&quote=Islamic+Stat")
    assert checked.status_code == 409 and "is not what was quoted" in checked.text

    api = f"{served.base}/api/passages/{article_id}:{start}-{start + len(quote)}"
    shown = httpx.get(api, params={"sig": signature, "quote": quote})
    assert shown.status_code == 200 and shown.json()["passage"] == quote and shown.json()["verbatim"] is True
    assert httpx.get(api, params={"sig": tampered}).json() == {
        "error": "this passage link is not signed by this server, or was altered"
    }


def test_hostile_article_text_reaches_the_page_as_text(served: Served):
    article_id = served.article_with("The harbour council met")
    page = httpx.get(served.span_url(article_id, "It agreed a new ferry timetable."))
    assert page.status_code == 200
    body = page.text.split("<main>")[1]
    assert "<script" not in body and "<img" not in body and "<svg" not in body
    assert "&lt;script&gt;" in body and "onerror=&quot;window.__pwned" in body


def test_stats_and_the_openapi_description(served: Served):
    stats = httpx.get(f"{served.base}/api/stats").json()
    assert stats["articles"] == 4 and stats["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert "store_path" not in stats and "vectors_at" not in stats
    spec = httpx.get(f"{served.base}/api/openapi.json").json()
    assert set(spec["paths"]) == {
        "/api/ask",
        "/api/passages/{reference}",
        "/api/stats",
        "/api/ingest",
        "/api/articles/{article_id}",
    }
    assert {p["name"] for p in spec["paths"]["/api/ask"]["get"]["parameters"]} == {
        "q",
        "as_of",
        "since",
        "until",
        "source",
    }


def test_admin_writes_need_the_token(served: Served, web: WebServer):
    ingest_url, bearer = f"{served.base}/api/ingest", {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    web.routes["/story"] = (
        200,
        "text/html",
        b"<html><head><title>Ferry strike</title></head><body><article><p>Ferry crews walked out on Tuesday "
        b"over pay, stranding hundreds of travellers.</p><p>The union said talks would resume.</p></article>"
        b"</body></html>",
    )
    urls = {"urls": [web.url("/story")]}
    assert httpx.post(ingest_url, json=urls).status_code == 401
    assert httpx.post(ingest_url, json=urls, headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert httpx.get(f"{served.base}/api/stats").json()["articles"] == 4

    report = httpx.post(ingest_url, json=urls, headers=bearer, timeout=120).json()
    assert report["articles_new"] == 1 and report["failures"] == []
    upload = httpx.post(
        ingest_url, files={"file": ("notice.txt", b"The ferry union called off the strike on Friday.")}, headers=bearer
    ).json()
    assert upload["articles_new"] == 1
    refused = httpx.post(ingest_url, files={"file": ("notice.exe", b"MZ")}, headers=bearer).json()
    assert refused["failures"][0]["input"] == "notice.exe"  # named as sent, not by the server's folder
    bad = httpx.post(ingest_url, json={"urls": ["file:///etc/passwd"]}, headers=bearer)
    assert bad.status_code == 400 and bad.json()["error"] == "urls: not an http(s) URL: 'file:///etc/passwd'"
    assert "Ferry crews walked out" in ask(served, "Why did the ferry crews walk out?").json()["text"]

    assert {"127.0.0.1", "web"} <= set(httpx.get(f"{served.base}/api/stats").json()["sources"])
    for text in ("Ferry crews walked out", "called off the strike"):
        target = f"{served.base}/api/articles/{served.article_with(text)}"
        assert httpx.delete(target).status_code == 401
        assert httpx.delete(target, headers=bearer).json()["articles_deleted"] == 1
        assert httpx.delete(target, headers=bearer).status_code == 404
    assert httpx.get(f"{served.base}/api/stats").json()["articles"] == 4


def test_a_public_server_opens_unsigned_links_has_no_admin_routes_and_limits_each_client(
    web_store: Path, tmp_path: Path
):
    public = {
        "NEWSBOT_WEB__PUBLIC": "true",
        "NEWSBOT_WEB__PUBLIC_URL": "https://news.example.org",
        "NEWSBOT_WEB__RATE_BURST": "5",
        "NEWSBOT_WEB__RATE_LIMIT": "0.01",
    }
    server = start_server(web_store, tmp_path / "serve.log", **public)
    try:
        article_id = server.article_with("An Islamist coalition")
        assert httpx.get(f"{server.base}/p/{article_id}:0-10").status_code == 200
        spec = httpx.get(f"{server.base}/api/openapi.json").json()
        assert "/api/ingest" not in spec["paths"] and "/api/articles/{article_id}" not in spec["paths"]
        bearer = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        absent = httpx.post(f"{server.base}/api/ingest", json={"urls": []}, headers=bearer)
        assert absent.status_code == 404 and absent.json() == {"error": "POST /api/ingest: Not Found"}
        cited = ask(server).json()["citations"][0]  # 3 of 127.0.0.1's 5
        assert cited["passage_url"].startswith(f"https://news.example.org/p/{cited['article_id']}:")

        other = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"))
        codes = [other.get(f"{server.base}/api/stats").status_code for _ in range(6)]
        assert codes == [200] * 5 + [429]
        limited = other.get(f"{server.base}/api/stats")
        assert int(limited.headers["retry-after"]) > 0 and limited.json()["error"].startswith("too many requests")
        assert httpx.get(f"{server.base}/api/stats").status_code == 200  # another client is not held up
    finally:
        server.stop()


def test_serve_and_the_bot_refuse_to_start_in_one_line_naming_the_problem(tmp_path: Path):
    bot = {"TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN, "NEWSBOT_WEB__PUBLIC_URL": "https://news.example.org"}
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        for command, env, named in (
            ("serve", {}, "NEWSBOT_WEB_SECRET is not set"),
            ("serve", {"NEWSBOT_WEB_SECRET": "short"}, "NEWSBOT_WEB_SECRET has 5 characters"),
            ("serve", {"NEWSBOT_WEB_ADMIN_TOKEN": "short", "NEWSBOT_WEB__PUBLIC": "true"}, "TOKEN has 5 characters"),
            ("serve", {"NEWSBOT_WEB__PUBLIC": "true", "NEWSBOT_WEB__PORT": port}, f"cannot listen on 127.0.0.1:{port}"),
            ("bot", bot, "web.public_url is set, so Sources link to passage pages, but NEWSBOT_WEB_SECRET is not set"),
        ):
            done = subprocess.run(
                [sys.executable, "-m", "newsbot.cli", command],
                env=newsbot_env(tmp_path / "store", **env),
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
            assert named in done.stderr


@pytest.mark.anyio
async def test_telegram_sources_carry_an_open_button_per_citation(served: Served, tmp_path: Path):
    telegram = FakeTelegram(TELEGRAM_TOKEN)
    await telegram.start()
    try:
        async with running_bot(served.store_path, telegram, tmp_path / "bot.sqlite3", links=served.links):
            chat = telegram.chat(USER)
            await telegram.send(chat, USER, DERNA)
            (answer,) = await telegram.wait_for("sendMessage")
            message = {"message_id": 5555, "date": 0, "chat": chat, "from": BOT_USER, "text": answer["text"]}
            await telegram.press(USER, message, answer["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
            sources = (await telegram.wait_for("sendMessage", 2))[1]
            await telegram.send(chat, USER, "/source 1")
            single = (await telegram.wait_for("sendMessage", 3))[2]
    finally:
        await telegram.close()
    buttons = [b for row in sources["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons] == [f"Open [{n}]" for n in range(1, len(buttons) + 1)] and buttons
    assert [b["text"] for row in single["reply_markup"]["inline_keyboard"] for b in row] == ["Open [1]"]
    for button in buttons:
        page = httpx.get(button["url"])
        assert page.status_code == 200 and '<mark id="q">' in page.text and "says exactly the quoted words" in page.text
    assert "Majlis" in httpx.get(buttons[0]["url"]).text.split('<mark id="q">')[1].split("</mark>")[0]
