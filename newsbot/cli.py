"""The ``newsbot`` command: ingest, stats, delete, ask, show, eval, bot, serve, config, feeds, watch, watch-question."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from newsbot.corpus.store import Store, StoreError
from newsbot.evaluation import (
    Asked,
    EvalReport,
    evaluate,
    load_own_questions,
    load_realtimeqa,
    realtimeqa_corpus,
    score_naive,
    week_config,
)
from newsbot.ingest.feeds import FeedRefresh, due_feeds, feed_json, refresh_due, seed_feeds
from newsbot.ingest.fields import is_url, normalize_date
from newsbot.ingest.pipeline import delete, ingest
from newsbot.links import PassageLinks, WebSecretError
from newsbot.qa.chain import QA
from newsbot.qa.extractive import ExtractiveAnswerer
from newsbot.qa.reader import HEURISTIC, ReaderError, reader_version
from newsbot.qa.verify import CitationError, passage_view
from newsbot.qa.watches import Alert, WatchLimitError, recheck, watch_question
from newsbot.records import Answer, Filters
from newsbot.redaction import filter_handlers, redact_output
from newsbot.settings import (
    SECRETS,
    Settings,
    SettingsError,
    explain_settings,
    load_settings,
    parse_interval,
    render_example,
    secrets_status,
)
from newsbot.terminal import TerminalDraft, answer_text, passage_text

EXIT_OK, EXIT_FAILURES, EXIT_ERROR = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    redact_output(SECRETS)
    args = _parser().parse_args(argv)
    try:
        if args.handler is _config:
            return _config(args)
        code = args.handler(args, load_settings(args.config))
        sys.stdout.flush()  # inside the try: a closed pipe fails here when stdout is block-buffered
        return code
    except (SettingsError, StoreError, ReaderError) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return _fail("interrupted; the next run finishes or undoes the half-written batch")
    except BrokenPipeError:  # `newsbot ask ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush cannot fail again
        return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="configuration file (default: $NEWSBOT_CONFIG, else ./config.yaml when present, else built-in defaults)",
    )
    parser = argparse.ArgumentParser(prog="newsbot", parents=[common], description=__doc__)
    parser.set_defaults(config=None)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    waits = argparse.ArgumentParser(add_help=False)
    waits.add_argument(
        "--wait",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="if another process is writing the store, wait this long for it to finish (default 300; 0: fail at once)",
    )
    ingest_cmd = commands.add_parser(
        "ingest", parents=[common, waits], help="add or update articles from files, folders, URLs, feeds"
    )
    ingest_cmd.add_argument("inputs", nargs="+", metavar="PATH_OR_URL")
    ingest_cmd.add_argument("--json", action="store_true", help="print the summary as JSON")
    ingest_cmd.add_argument("--quiet", action="store_true", help="no progress bar")
    ingest_cmd.set_defaults(handler=_ingest)

    stats = commands.add_parser("stats", parents=[common], help="what the store holds")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(handler=_stats)

    check_cmd = commands.add_parser(
        "check", parents=[common], help="how the registry, keyword index and vectors disagree (exit 1 when they do)"
    )
    check_cmd.add_argument(
        "--repair",
        action="store_true",
        help="open the store as a writer first, which finishes what a killed writer left and builds or catches up "
        "the Tantivy keyword index",
    )
    check_cmd.add_argument("--json", action="store_true")
    check_cmd.set_defaults(handler=_check)

    delete_cmd = commands.add_parser("delete", parents=[common], help="remove an article, or every article of a source")
    target = delete_cmd.add_mutually_exclusive_group(required=True)
    target.add_argument("article_id", nargs="?", metavar="ARTICLE_ID")
    target.add_argument("--source", metavar="S")
    delete_cmd.add_argument("--json", action="store_true")
    delete_cmd.set_defaults(handler=_delete)

    ask = commands.add_parser("ask", parents=[common], help="answer a question from the stored articles, with sources")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print the Answer object as JSON")
    ask.add_argument("--since", metavar="DATE", type=_iso_date, help="only articles published on or after DATE")
    ask.add_argument("--until", metavar="DATE", type=_iso_date, help="only articles published on or before DATE")
    ask.add_argument("--source", metavar="S", help="only articles of this source")
    ask.add_argument(
        "--as-of",
        metavar="DATE",
        type=_iso_date,
        help="ask as of this day: later articles are hidden, 'this week' means that week (default: today)",
    )
    ask.add_argument(
        "--no-stream",
        action="store_true",
        help="with an LLM, print nothing before the checked answer (by default its unchecked words go to stderr)",
    )
    ask.set_defaults(handler=_ask)

    show = commands.add_parser("show", parents=[common], help="a cited passage in its article, checked")
    show.add_argument("reference", metavar="ARTICLE_ID[:START-END]")
    show.add_argument("--quote", help="also check that the article says exactly this at those offsets")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_show)

    evaluate_cmd = commands.add_parser(
        "eval", parents=[common], help="score answers against questions with gold answers"
    )
    evaluate_cmd.add_argument("questions", nargs="+", metavar="QUESTIONS")
    evaluate_cmd.add_argument("--json", action="store_true")
    evaluate_cmd.add_argument("--baseline", action="store_true", help="also score the first-words control")
    evaluate_cmd.add_argument(
        "--naive-llm",
        action="store_true",
        help="also score a naive pipeline: the 4 nearest chunks pasted into one unchecked call to the configured LLM",
    )
    evaluate_cmd.add_argument("--work-dir", default="var/eval", help="where per-week RealTimeQA stores are kept")
    evaluate_cmd.add_argument("--limit", type=int, default=0, help="at most this many questions per file")
    evaluate_cmd.add_argument(
        "--scope",
        choices=("question", "week"),
        default="question",
        help="RealTimeQA: ask each question over its own search results (the benchmark's protocol) or its whole week",
    )
    evaluate_cmd.set_defaults(handler=_eval)

    bot_cmd = commands.add_parser("bot", parents=[common], help="run the Telegram bot (token from TELEGRAM_BOT_TOKEN)")
    bot_cmd.set_defaults(handler=_bot)

    serve_cmd = commands.add_parser(
        "serve", parents=[common], help="serve passage pages, the ask page and the JSON API over HTTP"
    )
    serve_cmd.add_argument("--host", help="listen on this address (default: web.host)")
    serve_cmd.add_argument("--port", type=int, help="listen on this port (default: web.port)")
    serve_cmd.set_defaults(handler=_serve)
    feeds_cmd = commands.add_parser("feeds", parents=[common], help="feed subscriptions that `watch` keeps fresh")
    feeds_actions = feeds_cmd.add_subparsers(dest="action", required=True, metavar="ACTION")
    feed_add = feeds_actions.add_parser("add", parents=[common], help="subscribe to a feed (due at once)")
    feed_add.add_argument("url", type=_feed_url, metavar="URL")
    feed_add.add_argument("--every", type=_interval, default=None, help="refresh interval, e.g. 15m (watch.every)")
    feed_add.add_argument("--source", default="", metavar="NAME", help="source name for its articles (web host)")
    feed_add.set_defaults(handler=_feeds_add)
    feed_list = feeds_actions.add_parser("list", parents=[common], help="subscriptions and how they went")
    feed_list.add_argument("--json", action="store_true")
    feed_list.set_defaults(handler=_feeds_list)
    feed_remove = feeds_actions.add_parser("remove", parents=[common], help="unsubscribe (stored articles stay)")
    feed_remove.add_argument("url", metavar="URL")
    feed_remove.set_defaults(handler=_feeds_remove)

    watch_cmd = commands.add_parser(
        "watch", parents=[common, waits], help="refresh due feeds until stopped (or --once; --wait: with --once)"
    )
    watch_cmd.add_argument("--once", action="store_true", help="refresh every due feed once, print, exit")
    watch_cmd.add_argument("--json", action="store_true", help="with --once: print what each feed added as JSON")
    watch_cmd.set_defaults(handler=_watch)

    question_cmd = commands.add_parser(
        "watch-question", parents=[common], help="questions `watch` asks again after new articles arrive"
    )
    question_actions = question_cmd.add_subparsers(dest="action", required=True, metavar="ACTION")
    question_add = question_actions.add_parser("add", parents=[common], help="watch a question")
    question_add.add_argument("question")
    question_list = question_actions.add_parser("list", parents=[common], help="the watched questions, numbered")
    question_list.add_argument("--json", action="store_true")
    question_remove = question_actions.add_parser("remove", parents=[common], help="stop watching question N")
    question_remove.add_argument("number", type=int, metavar="N")
    question_cmd.set_defaults(handler=_watch_question)

    migrate_cmd = commands.add_parser(
        "migrate",
        parents=[common],
        help="copy the configured SQLite store (registry, vectors) into the server profile; nothing is re-embedded",
    )
    migrate_cmd.add_argument("--to", choices=["postgres"], required=True, help="the target backend")
    migrate_cmd.add_argument(
        "--chroma-host", metavar="HOST", help="the target `chroma run` server (default: store.chroma.host)"
    )
    migrate_cmd.add_argument("--chroma-port", type=int, metavar="PORT", help="its port (default: store.chroma.port)")
    migrate_cmd.add_argument("--json", action="store_true", help="print the counts as JSON")
    migrate_cmd.set_defaults(handler=_migrate)

    config_cmd = commands.add_parser(
        "config", parents=[common], help="the effective configuration and where each value came from"
    )
    config_cmd.add_argument("--json", action="store_true")
    config_cmd.add_argument("--example", action="store_true", help="print every key with its default, as YAML")
    config_cmd.set_defaults(handler=_config)
    return parser


def _feed_url(value: str) -> str:
    if not is_url(value) or len(value.split()) != 1:
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {value!r}")
    return value


def _interval(value: str) -> float:
    try:
        return parse_interval(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _iso_date(value: str) -> str:
    parsed = normalize_date(value)
    if parsed is None:
        raise argparse.ArgumentTypeError(f"not a date: {value!r} (use YYYY-MM-DD)")
    return parsed


def _ingest(args: argparse.Namespace, config: Settings) -> int:
    with Store(config, write=True, wait=max(0.0, args.wait), on_wait=_note) as store:
        repaired = store.last_repair
        if repaired.vectors_removed or repaired.vectors_restored:
            print(
                f"repaired an interrupted write: {repaired.vectors_removed} stray vectors removed, "
                f"{repaired.vectors_restored} restored",
                file=sys.stderr,
            )
        report = ingest(args.inputs, store, progress=not args.quiet and sys.stderr.isatty())
    if args.json:
        _print_json(report.as_json())
    else:
        print(
            f"articles: {report.articles_new} new, {report.articles_updated} updated, "
            f"{report.articles_unchanged} unchanged, {report.articles_duplicate} duplicate, "
            f"{report.articles_failed} failed; chunks: {report.chunks_added} added, "
            f"{report.chunks_deleted} deleted; {report.seconds:.1f} s"
        )
        for failure in report.failures:
            print(f"FAILED {failure['input']}: {failure['error']}", file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAILURES


def _beside(qa: QA, config: Settings) -> dict[str, Callable[..., Answer]]:
    """The answerers eval scores beside the configured one on the same passages: the offline answer beside an
    LLM's, and the heuristic beside a trained reader, so every run shows what each adds."""
    beside: dict[str, Callable[..., Answer]] = {}
    if qa.llm is not None:
        beside["newsbot offline"] = qa.extractive.answer
    if config.answer.reader != HEURISTIC:
        heuristic = config.answer.model_copy(update={"reader": HEURISTIC})
        beside["heuristic reader"] = ExtractiveAnswerer(qa.store, heuristic).answer
    return beside


def _stats(args: argparse.Namespace, config: Settings) -> int:
    with Store(config) as store:
        stats = store.stats()
    stats["reader"] = reader_version(config.answer.reader)
    stats["llm"] = config.llm.model or config.llm.provider
    if args.json:
        _print_json(stats)
        return EXIT_OK
    dims = f" ({stats['dimension']} dimensions)" if stats["dimension"] else ""
    sources = ", ".join(f"{name} ({count})" for name, count in stats["sources"].items()) or "-"
    rows = [
        ("store", f"{stats['store_path']} ({stats['size_bytes'] / 1e6:.1f} MB)"),
        ("vectors", f"{stats['vectors']} at {stats['vectors_at']}"),
        ("model", f"{stats['model']}{dims}"),
        ("articles", stats["articles"]),
        ("chunks", stats["chunks"]),
        ("published", f"{stats['first_published'] or '?'} .. {stats['last_published'] or '?'}"),
        ("sources", f"{len(stats['sources'])}: {sources}"),
        ("reader", stats["reader"]),
        ("llm", stats["llm"]),
    ]
    for name, value in rows:
        print(f"{name:<10} {value}")
    return EXIT_OK


def _migrate(args: argparse.Namespace, config: Settings) -> int:
    """The configured store is the source; the target is PostgreSQL (DSN from the environment) with the vectors
    on a Chroma server: store.chroma's, or the one the flags name."""
    if config.store.backend != "sqlite":
        return _fail("migrate copies a SQLite store (store.backend: sqlite, store.path) into the server profile")
    data = config.model_dump()
    chroma = {**data["store"]["chroma"], "mode": "http"}
    chroma.update({k: v for k, v in (("host", args.chroma_host), ("port", args.chroma_port)) if v is not None})
    data["store"].update(backend="postgres", chroma=chroma)
    with Store(config) as source, Store(Settings.model_validate(data), write=True) as target:
        target.copy_from(source)
        before, after = source.stats(), target.stats()
    counts = {name: {"source": before[name], "target": after[name]} for name in ("articles", "chunks", "vectors")}
    same = all(count["source"] == count["target"] for count in counts.values())
    if args.json:
        _print_json({"source": before["store_path"], "target": after["store_path"], "counts": counts, "ok": same})
    else:
        print(f"copied {before['store_path']} into {after['store_path']} (vectors at {after['vectors_at']})")
        for name, count in counts.items():
            print(f"{name:<10} {count['source']} -> {count['target']}")
    if not same:
        print("newsbot: the counts differ; run migrate again to finish the copy", file=sys.stderr)
    return EXIT_OK if same else EXIT_FAILURES


def _check(args: argparse.Namespace, config: Settings) -> int:
    with Store(config, write=args.repair) as store:
        problems = store.problems()
    if args.json:
        _print_json({"problems": problems})
    else:
        print("\n".join(problems) or "registry, keyword index and vectors agree")
    return EXIT_FAILURES if problems else EXIT_OK


def _delete(args: argparse.Namespace, config: Settings) -> int:
    with Store(config, write=True) as store:
        articles, chunks = delete(store, article_id=args.article_id, source=args.source)
    target = f"source {args.source!r}" if args.source else f"article {args.article_id}"
    if args.json:
        _print_json({"articles_deleted": articles, "chunks_deleted": chunks})
    elif articles:
        print(f"deleted {articles} article(s) and {chunks} chunk(s) of {target}")
    else:
        print(f"nothing stored for {target}", file=sys.stderr)
    return EXIT_OK if articles else EXIT_FAILURES


def _ask(args: argparse.Namespace, config: Settings) -> int:
    with Store(config) as store:
        qa = QA(store, config)
        filters = Filters(since=args.since, until=args.until, source=args.source, as_of=args.as_of)
        draft = TerminalDraft(sys.stderr) if qa.llm is not None and not (args.no_stream or args.json) else None
        answer, _ = qa.ask(args.question, filters=filters, on_text=draft.update if draft else None)
        if draft is not None:
            draft.close()
    if args.json:
        _print_json(answer.as_json())
    else:
        print(answer_text(answer))
    return EXIT_OK


def _show(args: argparse.Namespace, config: Settings) -> int:
    with Store(config) as store:
        try:
            view = passage_view(store, args.reference, args.quote)
        except CitationError as exc:
            return _fail(str(exc), EXIT_FAILURES)
    if args.json:
        _print_json(view)
    else:
        print(passage_text(view, highlight=sys.stdout.isatty()))
    return EXIT_OK if view["verbatim"] is not False else EXIT_FAILURES


def _eval(args: argparse.Namespace, config: Settings) -> int:
    if args.naive_llm and config.llm.provider == "none":
        return _fail("--naive-llm needs an LLM: set llm.provider (e.g. openai), llm.base_url and llm.model")
    report = EvalReport()
    asked: list[tuple[Settings, list[Asked]]] = []  # the naive pipeline's questions, asked after all of newsbot's
    for path in map(Path, args.questions):
        corpus = realtimeqa_corpus(path)
        if corpus:
            questions = load_realtimeqa(path, corpus if args.scope == "question" else None)
        else:
            questions = load_own_questions(path)
        questions = questions[: args.limit] if args.limit else questions
        scope = week_config(config, Path(args.work_dir), corpus) if corpus else config
        if corpus:
            with Store(scope, write=True) as store:
                ingest([str(corpus)], store)
        with Store(scope) as store:
            qa = QA(store, scope)
            control = config.answer.max_words if args.baseline else None
            answered = evaluate(
                questions,
                store,
                qa.ask,
                report,
                baseline_words=control,
                alternatives=_beside(qa, scope),
                llm=qa.llm is not None,
            )
        asked.append((scope, answered))
        print(f"{path.name}: {len(questions)} questions", file=sys.stderr)
    for scope, questions_asked in asked if args.naive_llm else ():
        with Store(scope) as store:
            score_naive(questions_asked, QA(store, scope).naive_llm, report, store)
    summary = report.summary()
    if args.json:
        _print_json({"summary": summary, "questions": report.rows})
        return EXIT_OK
    print(
        f"questions {summary['questions']}, answerable {summary['answerable']}, stated in context {summary['stated']}"
    )
    for subset, key in (("answerable", "retrieval_hit_at"), ("stated", "retrieval_hit_at_stated")):
        hits = ", ".join(f"@{k} {_percent(v)}" for k, v in summary[key].items())
        print(f"retrieval hit ({subset}): {hits}")
    header = ("method", "gold (answerable)", "gold (stated)", "gold (all)", "abstained", "citations ok", "median ms")
    print("".join(f"{h:<22}" if i == 0 else f"{h:>{len(h) + 2}}" for i, h in enumerate(header)))
    for name, m in summary["methods"].items():
        print(
            f"{name:<22}{_percent(m['contains_gold_answerable']):>19}{_percent(m['contains_gold_stated']):>15}"
            f"{_percent(m['contains_gold_all']):>12}{_percent(m['abstention_rate']):>11}"
            f"{_percent(m['citation_validity']):>14}{m['median_latency_ms']:>11}"
        )
    for name, m in summary["methods"].items():
        if m["median_first_words_ms"] is not None:
            print(
                f"{name}: first streamed words median {m['median_first_words_ms']} ms, "
                f"p90 {m['p90_first_words_ms']} ms; whole answer median {m['median_latency_ms']} ms, "
                f"p90 {m['p90_latency_ms']} ms"
            )
    if summary["llm_replies"]:
        replies = dict(summary["llm_replies"])
        reasons = ", ".join(f"{reason} {count}" for reason, count in replies.pop("reasons").items()) or "-"
        print(f"LLM replies: {', '.join(f'{k} {v}' for k, v in replies.items())}; reasons: {reasons}")
    print(f"abstentions ({summary['unanswerable_with_articles']} unanswerable questions have articles):")
    for name, m in summary["methods"].items():
        print(
            f"  {name}: on those {_percent(m['abstained_unanswerable_with_articles'])}, "
            f"on answerable questions {_percent(m['abstained_answerable'])}"
        )
    return EXIT_OK


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _bot(args: argparse.Namespace, config: Settings) -> int:
    import logging

    from telegram.error import TelegramError

    from newsbot.bot.app import ALLOWED_UPDATES, NewsBot, webhook_options
    from newsbot.bot.startup import BotStartError, quiet_retry_tracebacks, reach_bot_api
    from newsbot.bot.state import open_bot_state

    token = os.environ.get("TELEGRAM_BOT_TOKEN", "").strip()
    if not token:
        return _fail("TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and export its token")
    try:
        web = config.web
        links = PassageLinks.configured(web.public_url, web.public, os.environ) if web.public_url else None
    except WebSecretError as exc:
        return _fail(f"web.public_url is set, so Sources link to passage pages, but {exc}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    filter_handlers(redact_output(SECRETS))
    quiet_retry_tracebacks()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its request lines would log the token
    settings = config.telegram
    if settings.mode == "webhook" and not settings.webhook_url:
        return _fail("telegram.mode is webhook but telegram.webhook_url is empty")
    try:
        reach_bot_api(token, settings, say=_note)
    except BotStartError as exc:
        return _fail(str(exc))
    with Store(config) as store:
        store.keep_keyword_index()
        state = open_bot_state(config, store.path)
        app = NewsBot(config, store, state, links).application(token)
        try:
            if settings.mode == "webhook":
                app.run_webhook(**webhook_options(settings, os.environ.get("TELEGRAM_WEBHOOK_SECRET")))
            else:
                app.run_polling(timeout=settings.poll_timeout, allowed_updates=ALLOWED_UPDATES)
        except TelegramError as exc:
            return _fail(f"Telegram refused to start the bot ({type(exc).__name__}: {exc})")
        finally:
            state.close()
    return EXIT_OK


def _serve(args: argparse.Namespace, config: Settings) -> int:
    from newsbot.web.serve import ServeError, serve  # FastAPI and uvicorn load for this command only

    if args.port is not None and not 1 <= args.port <= 65535:
        return _fail(f"--port {args.port}: expected 1 to 65535")
    try:
        serve(config, args.host or config.web.host, args.port or config.web.port, os.environ)
    except (WebSecretError, ServeError) as exc:
        return _fail(str(exc))
    return EXIT_OK


def _feeds_add(args: argparse.Namespace, config: Settings) -> int:
    every = args.every or parse_interval(config.watch.every)
    with Store(config) as store:
        new = store.add_feed(args.url, every, args.source)
    print(f"{'subscribed to' if new else 'updated'} {args.url} (every {every:g} s); `newsbot watch` refreshes it")
    return EXIT_OK


def _feeds_list(args: argparse.Namespace, config: Settings) -> int:
    with Store(config) as store:
        seed_feeds(store, config)
        feeds = [feed_json(feed) for feed in store.feeds()]
    if args.json:
        _print_json(feeds)
        return EXIT_OK
    if not feeds:
        print("no feeds: add one with `newsbot feeds add URL`", file=sys.stderr)
    for feed in feeds:
        outcome = f"error: {feed['last_error']}" if feed["last_error"] else f"ok {feed['last_success'] or 'never'}"
        print(
            f"{feed['url']}  every {feed['every_seconds']:g} s, {feed['articles_added']} added, {outcome}, "
            f"next {feed['next_run']}"
        )
    return EXIT_OK


def _feeds_remove(args: argparse.Namespace, config: Settings) -> int:
    with Store(config) as store:
        removed = store.remove_feed(args.url)
    if not removed:
        print(f"not subscribed: {args.url}", file=sys.stderr)
        return EXIT_FAILURES
    print(f"unsubscribed from {args.url} (its stored articles stay)")
    return EXIT_OK


def _watch(args: argparse.Namespace, config: Settings) -> int:
    if args.once:
        with Store(config, write=True, wait=max(0.0, args.wait), on_wait=_note) as store:
            seed_feeds(store, config)
            if not store.feeds():
                _note("no feeds: add one with `newsbot feeds add URL` or under feeds: in the configuration")
            results = refresh_due(store)
            alerts = _recheck_watches(store, config, results)
        if args.json:
            _print_json({"feeds": [r.as_json() for r in results], "alerts": [_alert_json(a) for a in alerts]})
        else:
            _print_refreshes(results)
            _print_alerts(alerts)
        return EXIT_OK if all(r.ok for r in results) else EXIT_FAILURES
    signal.signal(signal.SIGTERM, _interrupt)
    with Store(config) as reader:
        seed_feeds(reader, config)
        _note(f"watching {len(reader.feeds())} feed(s) of {reader.path}; looking every {config.watch.poll:g} s")
        try:
            while True:
                if due_feeds(reader):
                    try:
                        with reader.writing() as store:
                            results = refresh_due(store)
                            _print_refreshes(results)
                            _print_alerts(_recheck_watches(store, config, results))
                    except StoreError as exc:
                        _note(f"{exc}; trying again in {config.watch.poll:g} s")
                time.sleep(config.watch.poll)
        except KeyboardInterrupt:
            _note("stopped")
    return EXIT_OK


def _print_refreshes(results: list[FeedRefresh]) -> None:
    for result in results:
        if result.error:
            print(f"{result.url}: FAILED {result.error} (next try {result.next_run})", flush=True)
            continue
        counts = f"{result.articles_new} new, {result.articles_updated} updated, {result.articles_failed} failed"
        print(f"{result.url}: {result.status}; {counts}", flush=True)
        for failure in result.failures:
            print(f"FAILED {failure['input']}: {failure['error']}", file=sys.stderr, flush=True)


def _recheck_watches(store: Store, config: Settings, results: list[FeedRefresh]) -> list[Alert]:
    """The command line's watched questions asked again, when a refresh stored something."""
    if not any(r.articles_new or r.articles_updated for r in results):
        return []
    watches = store.watches(None)
    return recheck(store, QA(store, config), watches) if watches else []


def _print_alerts(alerts: list[Alert]) -> None:
    for alert in alerts:
        titles = "; ".join(c.title for c in alert.new)
        print(f"\nnew on watched question {alert.watch.question!r} ({titles}):", flush=True)
        print(answer_text(alert.answer), flush=True)


def _alert_json(alert: Alert) -> dict[str, Any]:
    return {
        "question": alert.watch.question,
        "new_articles": [c.article_id for c in alert.new],
        "answer": alert.answer.as_json(),
    }


def _watch_question(args: argparse.Namespace, config: Settings) -> int:
    with Store(config) as store:
        if args.action == "add":
            try:
                watch_question(store, QA(store, config), None, args.question)
            except WatchLimitError as exc:
                return _fail(str(exc), EXIT_FAILURES)
            print(f"watching {args.question!r}; `newsbot watch` says when a new article answers it")
            return EXIT_OK
        watches = store.watches(None)
        if args.action == "list":
            numbered = [{"n": n, "question": w.question} for n, w in enumerate(watches, 1)]
            if args.json:
                _print_json(numbered)
            for row in [] if args.json else numbered:
                print(f"{row['n']}. {row['question']}")
            return EXIT_OK
        if not 1 <= args.number <= len(watches):
            return _fail(f"no watched question {args.number} (there are {len(watches)})", EXIT_FAILURES)
        store.remove_watch(watches[args.number - 1].id)
        print(f"no longer watching {watches[args.number - 1].question!r}")
    return EXIT_OK


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM (systemd, containers) stops `watch` as Ctrl-C does; a half-written batch is finished next run."""
    raise KeyboardInterrupt


def _config(args: argparse.Namespace) -> int:
    """Settings are loaded here rather than in ``main``: an invalid value is reported like any other command's."""
    if args.example:
        sys.stdout.write(render_example())
        return EXIT_OK
    try:
        path, rows = explain_settings(args.config)
    except SettingsError as exc:
        return _fail(str(exc))
    secrets = secrets_status()
    if args.json:
        _print_json(
            {
                "file": str(path) if path else None,
                "settings": {key: {"value": value, "from": origin} for key, value, origin in rows},
                "secrets": secrets,
            }
        )
        return EXIT_OK
    print(f"# file: {path or 'none (defaults and environment only)'}")
    width = max(len(key) for key, _, _ in rows)
    for key, value, origin in rows:
        print(f"{key:<{width}}  {json.dumps(value, ensure_ascii=False):<40}  # {origin}")
    for name, state in secrets.items():
        print(f"{name:<{width}}  {'(' + state + ')':<40}  # environment only, never shown")
    return EXIT_OK


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def _note(message: str) -> None:
    print(f"newsbot: {message}", file=sys.stderr, flush=True)


def _fail(message: str, code: int = EXIT_ERROR) -> int:
    print(f"newsbot: error: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
