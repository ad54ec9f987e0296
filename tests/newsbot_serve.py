"""`newsbot serve` as a subprocess on 127.0.0.1 over a real store (the seed's Libya articles, a hostile one and a
long one), for the HTTP and browser tests."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from newsbot.corpus.store import Store
from newsbot.ingest.pipeline import ingest
from newsbot.links import PassageLinks
from tests.conftest import ROOT, SAMPLES, answers, free_port, make_config
from tests.test_cli import newsbot_env

SECRET = "web-secret-for-tests-0123456789"
ADMIN_TOKEN = "admin-token-for-tests-0123456789"
PAYLOAD = "window.__pwned = 1; document.title = 'PWNED'"
HOSTILE = {
    "id": "hostile-harbour",
    "source": "riverton-gazette",
    "published": "2025-03-03",
    "title": f'Harbour council <img src=x onerror="{PAYLOAD}">',
    "text": f"The harbour council met on Monday. <script>{PAYLOAD}</script> It agreed a new ferry timetable. "
    f'<img src=x onerror="{PAYLOAD}"> <svg onload="{PAYLOAD}"></svg> The mayor welcomed it.',
}
LONG_TARGET = "The lighthouse on the north pier will be repainted red and white in September."
LONG = {
    "id": "long-harbour-history",
    "source": "riverton-gazette",
    "published": "2025-03-04",
    "title": "A long history of the Riverton harbour",
    "text": "\n\n".join(
        f"Paragraph {i}: the harbour grew year after year as traders, fishers and ferry crews came and went, "
        "and the town around it grew with them, street by street, warehouse by warehouse."
        for i in range(60)
    )
    + f"\n\n{LONG_TARGET}",
}


def build_web_store(path: Path) -> Path:
    """The seed's Libya articles and the two test articles above, with the real model."""
    extra = path.parent / "riverton.jsonl"
    extra.write_text("".join(json.dumps(a) + "\n" for a in (HOSTILE, LONG)), encoding="utf-8")
    with Store(make_config(path), write=True) as store:
        report = ingest([str(SAMPLES / "libya"), str(extra)], store)
    assert report.ok and report.articles_new == 4, report.failures
    return path


@dataclass
class Served:
    """A running `newsbot serve`; ``links`` signs as it does."""

    base: str
    store_path: Path
    process: subprocess.Popen[bytes]
    log: Path
    links: PassageLinks

    def span_url(self, article_id: str, text: str) -> str:
        """The signed passage link of ``text`` in the stored article (its first occurrence)."""
        with Store(make_config(self.store_path)) as store:
            article = store.article(article_id)
        start = article.text.index(text)
        return self.links.url(article_id, start, start + len(text), text)

    def article_with(self, text: str) -> str:
        """The id of the stored article whose text holds ``text``."""
        with Store(make_config(self.store_path)) as store:
            return next(a for a in store.article_ids() if text in store.article(a).text)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def start_server(store_path: Path, log: Path, **env: str) -> Served:
    """`newsbot serve` on a free port, once it answers (the model is loaded before it listens)."""
    port = free_port()
    environ = newsbot_env(store_path, NEWSBOT_WEB__PORT=str(port), **env)
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "newsbot.cli", "serve", "--host", "127.0.0.1"],
            env=environ,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    if not answers(f"{base}/static/style.css", process, seconds=300):
        process.kill()
        raise AssertionError(f"newsbot serve did not come up:\n{log.read_text(errors='replace')}")
    public = environ.get("NEWSBOT_WEB__PUBLIC") == "true"
    return Served(base, store_path, process, log, PassageLinks(base, None if public else SECRET))
