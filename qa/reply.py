"""Reading the model's reply: the JSON format ``{"answer": "...", "sentences": [n, ...]}`` or plain text whose
sentences end in ``[n]`` markers (servers that refuse ``response_format``, models that ignore it). Numbers
name the numbered sentences the model was given. Also the answer so far of a reply still streaming in."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from newsbot.sentences import sentence_spans

MARKER = re.compile(r"\s*\[(\d+)\]")
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")
_ANSWER_KEY = re.compile(r'"answer"\s*:\s*"')
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


@dataclass(frozen=True)
class Claim:
    """One statement of the reply, without markers, and the sentence numbers it cites."""

    text: str
    cited: tuple[int, ...]


def claims(reply: str) -> list[Claim]:
    """The reply's claims: a JSON reply is one claim citing its ``sentences`` (plus any ``[n]`` in its answer);
    a plain reply has one claim per sentence, citing its own markers. Raises ValueError for a JSON object
    without a text ``answer``."""
    data = _json_object(reply)
    if data is None:
        return [_claim(reply[start:end]) for start, end in sentence_spans(reply)]
    answer, numbers = data.get("answer"), data.get("sentences", [])
    if not isinstance(answer, str) or not isinstance(numbers, list):
        raise ValueError('the JSON reply has no text "answer" or no list of "sentences"')
    claim = _claim(answer)
    cited = [int(n) for n in numbers if isinstance(n, int | str) and str(n).strip().isdigit()]
    return [Claim(claim.text, tuple(dict.fromkeys([*cited, *claim.cited])))] if claim.text else []


def answer_so_far(reply: str) -> str:
    """The readable part of a reply still arriving: a JSON reply's ``answer`` string as far as it has come
    (escapes decoded), else the text itself."""
    if not reply.lstrip().startswith(("{", "`")):
        return reply
    key = _ANSWER_KEY.search(reply)
    if key is None:
        return ""
    out: list[str] = []
    rest = reply[key.end() :]
    index = 0
    while index < len(rest):
        ch = rest[index]
        if ch == '"':
            break
        if ch == "\\":
            if index + 1 >= len(rest):
                break
            code = rest[index + 1]
            if code == "u":
                digits = rest[index + 2 : index + 6]
                if len(digits) < 4:
                    break
                out.append(chr(int(digits, 16)) if re.fullmatch(r"[0-9a-fA-F]{4}", digits) else "")
                index += 6
                continue
            out.append(_ESCAPES.get(code, code))
            index += 2
            continue
        out.append(ch)
        index += 1
    return "".join(out)


def _json_object(reply: str) -> dict | None:
    """The reply as a JSON object (a Markdown code fence around it allowed), or None when it is not one."""
    text = _FENCE.sub("", reply.strip())
    if not text.startswith("{"):
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the reply is not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ValueError("the JSON reply is not an object")
    return data


def _claim(sentence: str) -> Claim:
    numbers = tuple(dict.fromkeys(int(n) for n in MARKER.findall(sentence)))
    return Claim(MARKER.sub("", sentence).strip(), numbers)
