"""A fake OpenAI-compatible chat completions endpoint, served by the loopback WebServer of conftest: whole
replies or server-sent events (``stream: true``), and ``response_format`` taken or refused as a server would."""

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from tests.conftest import WebServer

JSON_FORMATS = ("json_schema", "json_object")
PIECE = 6  # characters of the reply per streamed chunk


@dataclass(frozen=True)
class CutOff:
    """A reply whose stream stops after ``text``: no finish_reason, no [DONE], the connection closed."""

    text: str


class FakeOpenAI:
    """Scripted chat completions: each request pops the next reply (text, a function of the request returning
    text, a cut-off stream, an HTTP status, or a delay in seconds). ``formats``: the ``response_format`` types it
    takes; a request asking for another is refused with status ``refusal`` before any reply is used
    (llama-cpp-python refuses ``json_schema`` with 500). ``chunk_delay``: seconds between streamed chunks."""

    def __init__(
        self, web: WebServer, formats: tuple[str, ...] = JSON_FORMATS, chunk_delay: float = 0.0, refusal: int = 400
    ) -> None:
        self.replies: list[str | Callable[[dict], str] | CutOff | int | float] = []
        self.requests: list[dict] = []
        self.formats = formats
        self.refusal = refusal
        self.chunk_delay = chunk_delay
        web.routes["/v1/chat/completions"] = self._complete
        self.base_url = web.url("/v1")

    def _complete(self, body: bytes) -> tuple[int, str, bytes | Iterator[bytes]]:
        request = json.loads(body)
        self.requests.append(request)
        wanted = (request.get("response_format") or {}).get("type", "text")
        if wanted != "text" and wanted not in self.formats:
            message = f"response_format.type: input should be one of {self.formats}"
            return self.refusal, "application/json", json.dumps({"error": {"message": message}}).encode()
        reply = self.replies.pop(0)
        if callable(reply):
            reply = reply(request)
        if isinstance(reply, float):
            time.sleep(reply)
            reply = "too late"
        if isinstance(reply, int):
            return reply, "application/json", b'{"error": {"message": "scripted failure"}}'
        if request.get("stream"):
            return 200, "text/event-stream", self._events(reply)
        text = reply.text if isinstance(reply, CutOff) else reply
        completion = {
            **_completion("chat.completion"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
        return 200, "application/json", json.dumps(completion).encode()

    def _events(self, reply: str | CutOff) -> Iterator[bytes]:
        text = reply.text if isinstance(reply, CutOff) else reply
        for start in range(0, len(text), PIECE):
            delta = {"role": "assistant", "content": text[start : start + PIECE]}
            yield _event({**_completion("chat.completion.chunk"), "choices": [{"index": 0, "delta": delta}]})
            time.sleep(self.chunk_delay)
        if isinstance(reply, CutOff):
            return
        last = {"index": 0, "delta": {}, "finish_reason": "stop"}
        yield _event({**_completion("chat.completion.chunk"), "choices": [last]})
        yield b"data: [DONE]\n\n"


def _completion(kind: str) -> dict:
    return {"id": "chatcmpl-test", "object": kind, "created": 0, "model": "scripted"}


def _event(data: dict) -> bytes:
    return f"data: {json.dumps(data)}\n\n".encode()


def sentence_number(request: dict, words: str) -> int:
    """The number the request's prompt gives the sentence containing ``words``."""
    for line in request["messages"][-1]["content"].splitlines():
        if line.startswith("[") and words in line:
            return int(line[1 : line.index("]")])
    raise AssertionError(f"no sentence given holds {words!r}")


def cited(answer: str, *words: str) -> Callable[[dict], str]:
    """A JSON reply: ``answer``, citing the given sentences that hold each of ``words``."""
    return lambda request: json.dumps({"answer": answer, "sentences": [sentence_number(request, w) for w in words]})
