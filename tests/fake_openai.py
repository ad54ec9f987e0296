"""A fake OpenAI-compatible chat completions endpoint, served by the loopback WebServer of conftest."""

import json
import time

from tests.conftest import WebServer


class FakeOpenAI:
    """Scripted chat completions: each request pops the next reply (text, or an HTTP status, or a delay)."""

    def __init__(self, web: WebServer) -> None:
        self.replies: list[str | int | float] = []
        self.requests: list[dict] = []
        web.routes["/v1/chat/completions"] = self._complete
        self.base_url = web.url("/v1")

    def _complete(self, body: bytes) -> tuple[int, str, bytes]:
        self.requests.append(json.loads(body))
        reply = self.replies.pop(0)
        if isinstance(reply, float):
            time.sleep(reply)
            reply = "too late"
        if isinstance(reply, int):
            return reply, "application/json", b'{"error": {"message": "scripted failure"}}'
        completion = {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 0,
            "model": "scripted",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
        return 200, "application/json", json.dumps(completion).encode()
