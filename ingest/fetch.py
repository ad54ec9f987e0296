"""Downloading pages and feeds with a size cap and a clear reason when it fails."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from newsbot.settings import IngestSettings


class FetchError(Exception):
    """A URL could not be downloaded; the message says why."""


@dataclass(frozen=True)
class Fetched:
    url: str
    content: bytes
    content_type: str
    charset: str | None


def make_client(config: IngestSettings) -> httpx.Client:
    return httpx.Client(
        follow_redirects=True,
        timeout=config.fetch_timeout,
        headers={"User-Agent": config.user_agent, "Accept": "text/html,application/xhtml+xml,application/xml,*/*"},
    )


def fetch(client: httpx.Client, url: str, max_bytes: int) -> Fetched:
    try:
        with client.stream("GET", url) as response:
            if response.status_code >= 400:
                raise FetchError(f"HTTP {response.status_code} {response.reason_phrase}".strip())
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"too large ({declared} bytes; ingest.max_input_bytes is {max_bytes})")
            body = bytearray()
            for piece in response.iter_bytes():
                body.extend(piece)
                if len(body) > max_bytes:
                    raise FetchError(f"too large (over {max_bytes} bytes; ingest.max_input_bytes)")
            return Fetched(
                url=str(response.url),
                content=bytes(body),
                content_type=response.headers.get("content-type", "").split(";")[0].strip().lower(),
                charset=response.charset_encoding,
            )
    except httpx.TimeoutException:
        raise FetchError(f"unreachable: no response within {client.timeout.read} s") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"unreachable: {type(exc).__name__}: {exc}") from None
