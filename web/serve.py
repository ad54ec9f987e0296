"""``newsbot serve``: the app over the configured store, served by uvicorn."""

from __future__ import annotations

from collections.abc import Mapping

import uvicorn

from newsbot.corpus.store import Store
from newsbot.links import SHORTEST_SECRET, PassageLinks, WebSecretError
from newsbot.settings import Settings
from newsbot.web.app import create_app

ADMIN_TOKEN_ENV = "NEWSBOT_WEB_ADMIN_TOKEN"


def serve(config: Settings, host: str, port: int, environ: Mapping[str, str]) -> None:
    """Serve until interrupted. Raises WebSecretError when passage links cannot be signed as configured, or the admin
    token is too short to be one."""
    links = PassageLinks.configured(config.web.public_url, config.web.public, environ)
    admin_token = environ.get(ADMIN_TOKEN_ENV, "").strip() or None
    if admin_token is not None and len(admin_token) < SHORTEST_SECRET:
        raise WebSecretError(f"{ADMIN_TOKEN_ENV} has {len(admin_token)} characters: use at least {SHORTEST_SECRET}")
    with Store(config) as store:
        app = create_app(config, store, links, admin_token)
        uvicorn.run(app, host=host, port=port, proxy_headers=True, log_level="info")
