"""``newsbot serve``: the app over the configured store, served by uvicorn."""

from __future__ import annotations

import socket
from collections.abc import Mapping

import uvicorn

from newsbot.corpus.store import Store
from newsbot.links import SHORTEST_SECRET, PassageLinks
from newsbot.settings import Settings
from newsbot.web.app import create_app

ADMIN_TOKEN_ENV = "NEWSBOT_WEB_ADMIN_TOKEN"


class ServeError(ValueError):
    """The server cannot start as configured; the message names what is at fault."""


def serve(config: Settings, host: str, port: int, environ: Mapping[str, str]) -> None:
    """Serve until interrupted. Everything that can refuse (the secrets, the address) is checked before the model
    loads: WebSecretError for NEWSBOT_WEB_SECRET, ServeError for the admin token or an address in use."""
    links = PassageLinks.configured(config.web.public_url, config.web.public, environ)
    admin_token = environ.get(ADMIN_TOKEN_ENV, "").strip() or None
    if admin_token is not None and len(admin_token) < SHORTEST_SECRET:
        raise ServeError(f"{ADMIN_TOKEN_ENV} has {len(admin_token)} characters: use at least {SHORTEST_SECRET}")
    with _listening(host, port) as listening, Store(config) as store:
        store.keep_keyword_index()
        app = create_app(config, store, links, admin_token)
        uvicorn.Server(uvicorn.Config(app, proxy_headers=True, log_level="info")).run(sockets=[listening])


def _listening(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        raise ServeError(f"cannot listen on {host}:{port} (web.host, web.port): {exc.strerror or exc}") from exc
