"""The ``newsbot`` command: ingest, stats, delete."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from corpus.embedder import EmbedderError
from corpus.store import Store, StoreError
from corpus.vectors import VectorStoreError
from ingest.pipeline import delete, ingest
from newsbot.config import Config, ConfigError, load_config

EXIT_OK, EXIT_FAILURES, EXIT_ERROR = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config)
        return args.handler(args, config)
    except (ConfigError, StoreError, EmbedderError, VectorStoreError) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return _fail("interrupted; the next run finishes or undoes the half-written batch")


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="configuration file (default: $NEWSBOT_CONFIG or the bundled config.yaml)",
    )
    parser = argparse.ArgumentParser(prog="newsbot", parents=[common], description=__doc__)
    parser.set_defaults(config=None)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest_cmd = commands.add_parser(
        "ingest", parents=[common], help="add or update articles from files, folders, URLs, feeds"
    )
    ingest_cmd.add_argument("inputs", nargs="+", metavar="PATH_OR_URL")
    ingest_cmd.add_argument("--json", action="store_true", help="print the summary as JSON")
    ingest_cmd.add_argument("--quiet", action="store_true", help="no progress bar")
    ingest_cmd.set_defaults(handler=_ingest)

    stats = commands.add_parser("stats", parents=[common], help="what the store holds")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(handler=_stats)

    delete_cmd = commands.add_parser("delete", parents=[common], help="remove an article, or every article of a source")
    target = delete_cmd.add_mutually_exclusive_group(required=True)
    target.add_argument("article_id", nargs="?", metavar="ARTICLE_ID")
    target.add_argument("--source", metavar="S")
    delete_cmd.add_argument("--json", action="store_true")
    delete_cmd.set_defaults(handler=_delete)
    return parser


def _ingest(args: argparse.Namespace, config: Config) -> int:
    with Store(config, write=True) as store:
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


def _stats(args: argparse.Namespace, config: Config) -> int:
    with Store(config) as store:
        stats = store.stats()
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
    ]
    for name, value in rows:
        print(f"{name:<10} {value}")
    return EXIT_OK


def _delete(args: argparse.Namespace, config: Config) -> int:
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


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def _fail(message: str) -> int:
    print(f"newsbot: error: {message}", file=sys.stderr)
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
