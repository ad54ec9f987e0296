"""Downloading pages and feeds with a size cap, the address guard and a clear reason when it fails.

Redirects are followed here, not by httpx, so that every hop passes ``guard.check_url``; each request goes
to the address that was checked (the name travels in the Host header and, for https, as the TLS server name
the certificate is verified against).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from newsbot.ingest.guard import RefusedURL, Target, UnresolvedHost, check_url
from newsbot.settings import IngestSettings

MAX_REDIRECTS = 5
_REDIRECTS = {301, 302, 303, 307, 308}


class FetchError(Exception):
    """A URL could not be downloaded, or must not be; the message says why."""


@dataclass(frozen=True)
class Fetched:
    url: str
    content: bytes
    content_type: str
    charset: str | None
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None


def make_client(config: IngestSettings) -> httpx.Client:
    """A client that follows no redirect itself and ignores proxy variables (it connects to checked addresses)."""
    return httpx.Client(
        follow_redirects=False,
        trust_env=False,
        timeout=config.fetch_timeout,
        headers={"User-Agent": config.user_agent, "Accept": "text/html,application/xhtml+xml,application/xml,*/*"},
    )


def fetch(client: httpx.Client, url: str, config: IngestSettings, headers: Mapping[str, str] | None = None) -> Fetched:
    """GET ``url`` (``headers`` may make it conditional: a 304 comes back as such, with no content)."""
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        try:
            target = check_url(current, config)
        except (RefusedURL, UnresolvedHost) as exc:
            raise FetchError(str(exc)) from None
        try:
            fetched = _get(client, target, config.max_input_bytes, headers or {})
        except httpx.TimeoutException:
            raise FetchError(f"unreachable: no response within {client.timeout.read} s") from None
        except httpx.HTTPError as exc:
            raise FetchError(f"unreachable: {type(exc).__name__}: {exc}") from None
        if isinstance(fetched, Fetched):
            return fetched
        current = urljoin(current, fetched)
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


def _get(client: httpx.Client, target: Target, max_bytes: int, headers: Mapping[str, str]) -> Fetched | str:
    """The response to one request at the checked address, or the Location it redirects to."""
    pinned = httpx.URL(target.url).copy_with(host=target.address)
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    headers = {**headers, "Host": target.host_header}
    request = client.build_request("GET", pinned, headers=headers, extensions=extensions)
    response = client.send(request, stream=True)
    try:
        location = response.headers.get("location")
        if response.status_code in _REDIRECTS and location:
            return location
        if response.status_code == 304:
            return _fetched(target, response, b"")
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
        return _fetched(target, response, bytes(body))
    finally:
        response.close()


def _fetched(target: Target, response: httpx.Response, content: bytes) -> Fetched:
    return Fetched(
        url=target.url,
        content=content,
        content_type=response.headers.get("content-type", "").split(";")[0].strip().lower(),
        charset=response.charset_encoding,
        status=response.status_code,
        etag=response.headers.get("etag"),
        last_modified=response.headers.get("last-modified"),
    )
