"""The ASGI app: passage pages (``/p/``), the ask page (``/``) and the JSON API (``/api/``) over one Store.

Passage links are signed (``newsbot.links``) unless the store is public; admin writes exist only when an admin
token is given. Every response forbids script and third-party content; the ask page and the API are
rate-limited per client.
"""

from __future__ import annotations

import hmac
import math
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from newsbot.corpus.store import Store, StoreError
from newsbot.ingest.fields import normalize_date
from newsbot.ingest.pipeline import IngestReport, delete, ingest
from newsbot.links import PAGES, PassageLinks, quote_fingerprint
from newsbot.qa.chain import QA
from newsbot.qa.reader import reader_version
from newsbot.qa.verify import CONTEXT_CHARS, CitationError, SpanOutside, passage_view
from newsbot.records import Answer, Citation, Filters
from newsbot.settings import Settings
from newsbot.web.pages import ask_page, error_page, passage_page
from newsbot.web.ratelimit import RateLimiter

STATIC = Path(__file__).parent / "static"
BEARER = HTTPBearer(auto_error=False, description="NEWSBOT_WEB_ADMIN_TOKEN")
MAX_QUESTION = 1000
UPLOAD_FOLDER = "web"  # uploads are ingested from <store>/uploads/web/, so their source is "web"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # a signed link never leaks to the sites its page links to
}


class WebError(Exception):
    """A request refused with ``status``; the message names the input at fault."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def create_app(config: Settings, store: Store, links: PassageLinks, admin_token: str | None = None) -> FastAPI:
    """The app over ``store`` (its model is loaded here, before the first request). Admin routes exist only
    with ``admin_token``."""
    qa = QA(store, config)
    limiter = RateLimiter(config.web.rate_limit, config.web.rate_burst)
    app = FastAPI(
        title="newsbot",
        summary="Answers questions about news articles with verbatim, checkable citations.",
        version="1",
        openapi_url="/api/openapi.json",
        docs_url=None,  # the interactive docs load third-party script
        redoc_url=None,
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        path = request.url.path
        limited = path == "/" or path.startswith("/api/")
        wait = limiter.wait(request.client.host if request.client else "") if limited else 0.0
        if wait:
            message = f"too many requests from this client: try again in {math.ceil(wait)} s"
            response = _refusal(request, 429, message)
            response.headers["Retry-After"] = str(math.ceil(wait))
        else:
            response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.exception_handler(WebError)
    async def refused(request: Request, exc: WebError) -> Response:
        return _refusal(request, exc.status, str(exc))

    @app.exception_handler(HTTPException)
    async def not_served(request: Request, exc: HTTPException) -> Response:
        return _refusal(request, exc.status_code, f"{request.method} {request.url.path}: {exc.detail}")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors())
        return _refusal(request, 400, problems)

    def signed_view(reference: str, sig: str | None, quote: str | None, context: int | None) -> dict[str, Any]:
        if not links.allows(PAGES + reference, sig):
            raise WebError(403, "this passage link is not signed by this server, or was altered")
        try:
            return passage_view(store, reference, quote, context)
        except SpanOutside as exc:
            raise WebError(409, str(exc)) from exc
        except CitationError as exc:
            raise WebError(404, str(exc)) from exc

    @app.get(PAGES + "{reference}", response_class=HTMLResponse, include_in_schema=False)
    def passage(reference: str, sig: str | None = None, h: str | None = None, quote: str | None = None) -> Response:
        view = signed_view(reference, sig, quote, None)
        checks = [view["verbatim"]] if quote is not None else []
        if h is not None:
            checks.append(quote_fingerprint(view["passage"]) == h)
        matches = all(checks) if checks else None
        return HTMLResponse(passage_page(view, matches), status_code=409 if matches is False else 200)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def ask_html(q: str = "") -> Response:
        question = _question(q) if q.strip() else ""
        answer = qa.ask(question)[0] if question else None
        relative = replace(links, base_url="")

        def link(citation: Citation) -> str:
            return relative.url(citation.article_id, citation.start, citation.end, citation.quote)

        return HTMLResponse(ask_page(question, answer, link, store.summary()))

    @app.get("/api/ask", summary="Answer a question; the same Answer object as `newsbot ask --json`")
    def api_ask(
        request: Request,
        q: Annotated[str, Query(description="the question")],
        as_of: Annotated[str | None, Query(description="ask as of this day (YYYY-MM-DD; default today)")] = None,
        since: Annotated[str | None, Query(description="only articles published on or after (YYYY-MM-DD)")] = None,
        until: Annotated[str | None, Query(description="only articles published on or before (YYYY-MM-DD)")] = None,
        source: Annotated[str | None, Query(description="only articles of this source")] = None,
    ) -> dict[str, Any]:
        dates = {name: _date(name, value) for name, value in (("as_of", as_of), ("since", since), ("until", until))}
        answer, _ = qa.ask(_question(q), filters=Filters(source=source or None, **dates))
        return _answer_json(answer, replace(links, base_url=links.base_url or str(request.base_url).rstrip("/")))

    @app.get("/api/passages/{reference}", summary="A cited passage in its article, checked (`newsbot show --json`)")
    def api_passage(
        reference: Annotated[str, PathParam(description="ARTICLE_ID:START-END, as in a citation")],
        sig: Annotated[str | None, Query(description="the passage link's signature (unless public)")] = None,
        quote: Annotated[str | None, Query(description="check the article says exactly this there")] = None,
    ) -> Response:
        view = signed_view(reference, sig, quote, CONTEXT_CHARS)
        return JSONResponse(view, status_code=409 if view["verbatim"] is False else 200)

    @app.get("/api/stats", summary="What the store holds (`newsbot stats --json` less where the server keeps it)")
    def api_stats() -> dict[str, Any]:
        stats = {k: v for k, v in store.stats().items() if k not in ("store_path", "vectors_at")}
        return {**stats, "reader": reader_version(config.answer.reader), "llm": config.llm.model or config.llm.provider}

    if admin_token:
        _admin_routes(app, store, admin_token)
    return app


def _admin_routes(app: FastAPI, store: Store, token: str) -> None:
    def admin(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]) -> None:
        if credentials is None:
            raise WebError(401, "admin only: send Authorization: Bearer <NEWSBOT_WEB_ADMIN_TOKEN>")
        if not hmac.compare_digest(credentials.credentials.encode(), token.encode()):
            raise WebError(403, "admin only: the bearer token is not NEWSBOT_WEB_ADMIN_TOKEN")

    upload_body = {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "object", "properties": {"urls": {"type": "array", "items": {"type": "string"}}}}
                },
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
                },
            },
        }
    }

    @app.post(
        "/api/ingest",
        dependencies=[Depends(admin)],
        openapi_extra=upload_body,
        summary="Ingest URLs (JSON {urls}) or an uploaded file (multipart, field `file`); admin only",
    )
    async def api_ingest(request: Request) -> dict[str, Any]:
        kind = request.headers.get("content-type", "")
        if kind.startswith("application/json"):
            urls = _urls(await _json(request))
            report = await run_in_threadpool(_ingest, store, urls)
        elif kind.startswith("multipart/form-data"):
            form = await request.form()
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise WebError(400, "file: expected a file field named 'file'")
            name = _upload_name(upload.filename)
            folder = store.path / "uploads" / UPLOAD_FOLDER
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            with path.open("wb") as saved:
                shutil.copyfileobj(upload.file, saved)
            try:
                report = await run_in_threadpool(_ingest, store, [str(path)])
            finally:
                path.unlink(missing_ok=True)
            for failure in report.failures:  # name the upload, not the server's folder
                failure["input"] = failure["input"].replace(str(path), name)
        else:
            raise WebError(415, f"content-type {kind or '(none)'!r}: send application/json or multipart/form-data")
        return report.as_json()

    @app.delete("/api/articles/{article_id}", dependencies=[Depends(admin)], summary="Delete an article; admin only")
    def api_delete(article_id: str) -> dict[str, int]:
        try:
            with store.writing() as writer:
                articles, chunks = delete(writer, article_id=article_id)
        except StoreError as exc:
            raise WebError(409, str(exc)) from exc
        if not articles:
            raise WebError(404, f"no stored article has id {article_id}")
        return {"articles_deleted": articles, "chunks_deleted": chunks}


def _ingest(store: Store, inputs: list[str]) -> IngestReport:
    try:
        with store.writing() as writer:
            return ingest(inputs, writer)
    except StoreError as exc:
        raise WebError(409, str(exc)) from exc


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError as exc:
        raise WebError(400, f"body: not valid JSON ({exc})") from exc


def _urls(body: Any) -> list[str]:
    urls = body.get("urls") if isinstance(body, dict) else None
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
        raise WebError(400, 'urls: expected {"urls": ["https://..."]} with at least one URL')
    bad = [u for u in urls if not u.startswith(("http://", "https://"))]
    if bad:
        raise WebError(400, f"urls: not an http(s) URL: {bad[0]!r}")
    return urls


def _upload_name(filename: str | None) -> str:
    name = Path(filename or "").name
    if not name or name.startswith("."):
        raise WebError(400, f"file: {filename!r} is not a usable file name")
    return name


def _question(q: str) -> str:
    question = " ".join(q.split())
    if not question:
        raise WebError(400, "q: the question is empty")
    if len(question) > MAX_QUESTION:
        raise WebError(400, f"q: {len(question)} characters; at most {MAX_QUESTION}")
    return question


def _date(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    parsed = normalize_date(value)
    if parsed is None:
        raise WebError(400, f"{name}: not a date: {value!r} (use YYYY-MM-DD)")
    return parsed


def _answer_json(answer: Answer, links: PassageLinks) -> dict[str, Any]:
    """The Answer object, each citation with the signed address of its passage page (``passage_url``)."""
    data = answer.as_json()
    for citation, shown in zip(answer.citations, data["citations"], strict=True):
        shown["passage_url"] = links.url(citation.article_id, citation.start, citation.end, citation.quote)
    return data


def _refusal(request: Request, status: int, message: str) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status_code=status)
    return HTMLResponse(error_page(status, message), status_code=status)
