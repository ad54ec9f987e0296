"""A real HTTP server on 127.0.0.1 for feeds and redirects: pages with headers (ETag, Last-Modified,
Location), conditional GET answered with 304, slow routes, and a log of every request with its headers."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.conftest import LoopbackServer


@dataclass
class Page:
    status: int = 200
    kind: str = "text/html; charset=utf-8"
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (a server that times out)


class FeedServer(LoopbackServer):
    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.requests.append((self.path, headers))
                page = server.pages.get(self.path, Page(404, "text/plain", b"not found"))
                time.sleep(page.delay)
                status = page.status
                etag, modified = page.headers.get("ETag"), page.headers.get("Last-Modified")
                if "if-none-match" in headers:  # it takes precedence over If-Modified-Since (RFC 9110)
                    if etag and headers["if-none-match"] == etag:
                        status = 304
                elif modified and headers.get("if-modified-since") == modified:
                    status = 304
                body = b"" if status == 304 else page.body
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", page.kind)
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in page.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first (timeout tests)

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(Handler)

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


def rss(*items: tuple[str, str, str]) -> bytes:
    """An RSS 2.0 feed of (title, link, description) items."""
    body = "".join(
        f"<item><title>{title}</title><link>{link}</link><pubDate>Fri, 03 May 2024 10:00:00 GMT</pubDate>"
        f"<description>{description}</description></item>"
        for title, link, description in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed</title>{body}</channel></rss>'.encode()


def article_page(title: str, *paragraphs: str) -> bytes:
    text = "".join(f"<p>{p}</p>" for p in paragraphs)
    head = f"<html><head><title>{title}</title></head>"
    return f"{head}<body><article><h1>{title}</h1>{text}</article></body></html>".encode()
