"""Passage links: the address of a cited span's page, signed so that a link handed out opens that passage and
no other address can be guessed. The web server checks them; the surfaces that hand them out (web answers,
Telegram's Open buttons) make them. Imports nothing of ours."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

SECRET_ENV = "NEWSBOT_WEB_SECRET"
SHORTEST_SECRET = 16
SIGNATURE_CHARS = 32  # 128 bits of HMAC-SHA256, in hex
FINGERPRINT_CHARS = 16
PAGES = "/p/"  # passage pages live at /p/ARTICLE_ID:START-END
FRAGMENT = "q"  # the highlighted span's element id: browsers scroll it into view without script


class WebSecretError(ValueError):
    """NEWSBOT_WEB_SECRET is missing or too short to sign passage links; the message says so."""


def passage_path(article_id: str, start: int, end: int) -> str:
    return f"{PAGES}{article_id}:{start}-{end}"


def quote_fingerprint(quote: str) -> str:
    """A short hash of the quoted text: the page says whether the stored text at the offsets is still it."""
    return hashlib.sha256(quote.encode("utf-8")).hexdigest()[:FINGERPRINT_CHARS]


@dataclass(frozen=True)
class PassageLinks:
    """Makes and checks passage links. ``secret`` None means a public store: links go unsigned and every
    passage opens. ``base_url`` is what links start with (the server's public address)."""

    base_url: str
    secret: str | None

    @classmethod
    def configured(cls, base_url: str, public: bool, environ: Mapping[str, str]) -> PassageLinks:
        """Links as configured (``web.public_url``, ``web.public``), the key from ``NEWSBOT_WEB_SECRET``."""
        if public:
            return cls(base_url, None)
        secret = environ.get(SECRET_ENV, "").strip()
        if not secret:
            raise WebSecretError(
                f"{SECRET_ENV} is not set: passage links are signed with it (or set web.public: true to open "
                "every passage to anyone)"
            )
        if len(secret) < SHORTEST_SECRET:
            raise WebSecretError(
                f"{SECRET_ENV} has {len(secret)} characters: use at least {SHORTEST_SECRET} random ones, e.g. "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return cls(base_url, secret)

    def signature(self, path: str) -> str:
        if self.secret is None:
            return ""
        digest = hmac.new(self.secret.encode("utf-8"), path.encode("utf-8"), hashlib.sha256).hexdigest()
        return digest[:SIGNATURE_CHARS]

    def allows(self, path: str, signature: str | None) -> bool:
        """Whether ``signature`` (the link's ``sig``) was made by this server for ``path``."""
        return self.secret is None or hmac.compare_digest(self.signature(path), signature or "")

    def url(self, article_id: str, start: int, end: int, quote: str | None = None) -> str:
        """The passage page's address, scrolled to the span; with ``quote``, the page checks it is still the text."""
        path = passage_path(article_id, start, end)
        query = {"h": quote_fingerprint(quote)} if quote is not None else {}
        if self.secret is not None:
            query["sig"] = self.signature(path)
        return f"{self.base_url.rstrip('/')}{path}{'?' + urlencode(query) if query else ''}#{FRAGMENT}"
