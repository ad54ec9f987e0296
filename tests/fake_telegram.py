"""A fake Telegram Bot API server on 127.0.0.1 (aiohttp): enough of the HTTP API for the real
python-telegram-bot client to poll, answer, edit, download files and be rate limited. Tests inject updates
and read back every request the bot made. Once the bot sets a webhook, updates are POSTed to it, as Telegram
does, instead of waiting for getUpdates."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, web

BOT_USER = {
    "id": 424242,
    "is_bot": True,
    "first_name": "NewsBot",
    "username": "newsbot_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


@dataclass
class Call:
    method: str
    params: dict[str, Any]


@dataclass
class FakeTelegram:
    token: str
    calls: list[Call] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    rate_limit: dict[str, int] = field(default_factory=dict)  # method -> how many 429s to answer first
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _next_update: int = 1
    _next_message: int = 1000
    _chats: dict[int, dict[str, Any]] = field(default_factory=dict)
    _closing: bool = False
    webhook: dict[str, Any] | None = None  # setWebhook's url and secret_token
    pushed: list[dict[str, Any]] = field(default_factory=list)  # every update injected, in order
    deliveries: list[tuple[int, int]] = field(default_factory=list)  # webhook mode: (update_id, HTTP status)
    sent: dict[int, dict[str, Any]] = field(default_factory=dict)  # the bot's messages by id, as last edited

    async def start(self) -> None:
        self._wake = asyncio.Condition()
        self._client = ClientSession()
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.*}", self._file)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # the port the OS chose
        self.base_url = f"http://127.0.0.1:{port}/bot"
        self.base_file_url = f"http://127.0.0.1:{port}/file/bot"

    async def close(self) -> None:
        async with self._wake:
            self._closing = True
            self._wake.notify_all()  # wake parked long polls so shutdown is immediate
        await self._client.close()
        await self._runner.cleanup()

    # -- what tests do ----------------------------------------------------------------------------------
    def chat(self, chat_id: int, kind: str = "private") -> dict[str, Any]:
        chat = {"id": chat_id, "type": kind}
        if kind == "private":
            chat["first_name"] = f"user{chat_id}"
        else:
            chat["title"] = f"group {chat_id}"
        self._chats[chat_id] = chat
        return chat

    async def send(
        self,
        chat: dict[str, Any],
        user_id: int,
        text: str | None = None,
        *,
        reply_to: dict[str, Any] | None = None,
        **media: dict[str, Any],
    ) -> dict[str, Any]:
        """Inject a user's message (``media``: document=, voice=, audio= as ``upload`` makes them); returns the
        message object."""
        message = self._message(chat, {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"})
        if text is not None:
            message["text"] = text
            entities = []
            if text.startswith("/"):
                entities.append({"type": "bot_command", "offset": 0, "length": len(text.split()[0])})
            mention = "@" + BOT_USER["username"]
            if mention in text:
                entities.append({"type": "mention", "offset": text.index(mention), "length": len(mention)})
            if entities:
                message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        message.update(media)
        await self._push({"message": message})
        return message

    async def press(self, user_id: int, message: dict[str, Any], data: str) -> dict[str, Any]:
        """Press an inline button of ``message``; returns the update."""
        query = {
            "id": f"cq{time.monotonic_ns()}",
            "from": {"id": user_id, "is_bot": False, "first_name": "u"},
            "chat_instance": "ci",
            "message": message,
            "data": data,
        }
        return await self._push({"callback_query": query})

    async def redeliver(self, update: dict[str, Any]) -> None:
        """Deliver an update again, as Telegram does when a webhook gave no 200 in time."""
        await self._deliver(update)

    def upload(self, file_id: str, name: str, content: bytes) -> dict[str, Any]:
        self.files[file_id] = content
        return {"file_id": file_id, "file_unique_id": file_id + "u", "file_name": name, "file_size": len(content)}

    def requests(self, method: str) -> list[dict[str, Any]]:
        return [call.params for call in self.calls if call.method == method]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 60) -> list[dict[str, Any]]:
        """The first ``count`` requests of ``method`` made since the test began, once they have arrived."""
        deadline = time.monotonic() + timeout
        while len(self.requests(method)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"the bot made {len(self.requests(method))} {method} calls, expected {count}")
            await asyncio.sleep(0.02)
        return self.requests(method)

    # -- the API ----------------------------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params = await _params(request)
        self.calls.append(Call(method, params))
        if self.rate_limit.get(method):
            self.rate_limit[method] -= 1
            return web.json_response(
                {
                    "ok": False,
                    "error_code": 429,
                    "description": "Too Many Requests: retry after 1",
                    "parameters": {"retry_after": 1},
                },
                status=429,
            )
        handler = getattr(self, f"_{method}", None)
        result = await handler(params) if handler else True
        return web.json_response({"ok": True, "result": result})

    async def _file(self, request: web.Request) -> web.Response:
        content = self.files.get(request.match_info["path"].removeprefix("documents/"))
        return web.Response(body=content) if content is not None else web.Response(status=404)

    async def _getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return BOT_USER

    async def _getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and not self._closing:
            async with self._wake:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=float(params.get("timeout") or 0))
        return list(self._updates)

    async def _sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chats.get(int(params["chat_id"])) or self.chat(int(params["chat_id"]))
        message = self._message(chat, BOT_USER)
        message["text"] = params["text"]
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        self.sent[message["message_id"]] = message
        return message

    async def _editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        """The edited message keeps its id."""
        message = await self._sendMessage(params)
        del self.sent[message["message_id"]]
        self._next_message -= 1
        edited = {**message, "message_id": int(params["message_id"]), "edit_date": int(time.time())}
        self.sent[edited["message_id"]] = edited
        return edited

    async def _setWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = {"url": params["url"], "secret_token": params.get("secret_token")}
        return True

    async def _deleteWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = None
        return True

    async def _getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = params["file_id"]
        return {
            "file_id": file_id,
            "file_unique_id": file_id + "u",
            "file_size": len(self.files.get(file_id, b"")),
            "file_path": f"documents/{file_id}",
        }

    def _message(self, chat: dict[str, Any], sender: dict[str, Any]) -> dict[str, Any]:
        self._next_message += 1
        return {"message_id": self._next_message, "date": int(time.time()), "chat": chat, "from": sender}

    async def _push(self, update: dict[str, Any]) -> dict[str, Any]:
        update["update_id"] = self._next_update
        self._next_update += 1
        self.pushed.append(update)
        if self.webhook is not None:
            await self._deliver(update)
            return update
        async with self._wake:
            self._updates.append(update)
            self._wake.notify_all()
        return update

    async def _deliver(self, update: dict[str, Any]) -> None:
        assert self.webhook is not None, "no webhook is set"
        secret = self.webhook["secret_token"]
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        async with self._client.post(self.webhook["url"], json=update, headers=headers) as response:
            self.deliveries.append((update["update_id"], response.status))


async def _params(request: web.Request) -> dict[str, Any]:
    """PTB posts form fields whose non-string values are JSON-encoded; decode those."""
    if request.content_type == "application/json":
        return await request.json()
    form = await request.post()
    params: dict[str, Any] = {}
    for key, value in form.items():
        if isinstance(value, str) and value[:1] in "{[":
            try:
                params[key] = json.loads(value)
                continue
            except json.JSONDecodeError:
                pass
        params[key] = value
    return params
