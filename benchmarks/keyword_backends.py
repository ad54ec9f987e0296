"""Keyword search (BM25) on both registry backends: SQLite's FTS5 and PostgreSQL's postings table.

For each RealTimeQA validation week: ingest its articles into a SQLite store and into the server profile
(PostgreSQL named by NEWSBOT_STORE__POSTGRES__DSN, vectors on the `chroma run` at --chroma-host/--chroma-port;
the week's articles are removed from it afterwards, so each week is ranked over its own articles as the eval
does), ask every question (scoped to its own search results, as of its date, as ``newsbot eval`` does) by
keyword search alone, and count hit@k on the answerable questions (gold text in one of the top k chunks), the
questions whose top 10 differ between the backends, and the keyword query's latency. Vectors come from a small
hashing encoder (tests/fake_encoder.py): only the keyword side is measured, so no model is loaded.

    NEWSBOT_STORE__POSTGRES__DSN=postgresql://... python benchmarks/keyword_backends.py --chroma-port 8000 \\
        [--weeks 39] [--work-dir var/keyword-bench]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "realtimeqa-2025q2q4"
HIT_AT = (1, 5, 10)


def main() -> None:
    from newsbot.corpus.store import Store
    from newsbot.evaluation import contains_normalized, load_realtimeqa, normalize, scope_filter
    from newsbot.ingest.pipeline import ingest
    from newsbot.records import Filters
    from newsbot.settings import Settings
    from tests.fake_encoder import HashingEncoder

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weeks", type=int, default=0, help="the first N weeks (0: all)")
    parser.add_argument("--chroma-host", default="127.0.0.1")
    parser.add_argument("--chroma-port", type=int, default=8000)
    parser.add_argument("--work-dir", type=Path, default=ROOT / "var" / "keyword-bench")
    parser.add_argument(
        "--one-store", action="store_true", help="instead: every week's articles in one store, unscoped questions"
    )
    args = parser.parse_args()

    weeks = sorted(DATA.glob("*_qa.jsonl"))[: args.weeks or None]
    http = {"mode": "http", "host": args.chroma_host, "port": args.chroma_port, "collection": "keyword-bench"}
    profiles = {
        "sqlite": {
            "path": str(args.work_dir / "sqlite"),
            "keyword_engine": "registry",
            "chroma": {"collection": "keyword-bench"},
        },
        "postgres": {"backend": "postgres", "path": str(args.work_dir / "unused"), "chroma": http},
    }
    if args.one_store:
        print(json.dumps(one_store(profiles, weeks), indent=2))
        return
    hits = {name: dict.fromkeys(HIT_AT, 0) for name in profiles}
    latency: dict[str, list[float]] = {name: [] for name in profiles}
    answerable = differing = asked = 0
    for qa_path in weeks:
        corpus = qa_path.with_name(qa_path.name.removesuffix("_qa.jsonl") + "_gcs.jsonl")
        questions = load_realtimeqa(qa_path, corpus)
        ranked: dict[str, list[list[str]]] = {}
        for name, store_section in profiles.items():
            config = Settings.model_validate({"store": store_section})
            with Store(config, write=True, encoder=HashingEncoder()) as store:
                ingest([str(corpus)], store)
                texts = {a: normalize(store.article(a).text) for a in store.article_ids()}
                published = {a: store.article(a).published for a in texts}
                ranked[name] = []
                for question in questions:
                    filters = scope_filter(store, question.keys) or Filters()
                    filters = Filters(article_ids=filters.article_ids, as_of=question.as_of)
                    started = time.perf_counter()
                    found = store.keyword_search(question.question, 10, filters)
                    latency[name].append((time.perf_counter() - started) * 1000)
                    ranked[name].append([cid for cid, _ in found])
                    golds = [normalize(g) for g in question.gold if normalize(g)]
                    scope = [
                        a
                        for a in filters.article_ids or ()
                        if not question.as_of or not published[a] or published[a] <= question.as_of
                    ]
                    if not any(contains_normalized(texts[a], golds) for a in scope):
                        continue
                    ranks = [
                        i for i, p in enumerate(store.passages(found)) if contains_normalized(normalize(p.text), golds)
                    ]
                    for k in HIT_AT:
                        hits[name][k] += bool(ranks) and ranks[0] < k
                    answerable += name == "sqlite"
                store.delete(store.article_ids())  # the next week is ranked over its own articles
        asked += len(questions)
        differing += sum(a != b for a, b in zip(ranked["sqlite"], ranked["postgres"], strict=True))
        print(
            f"{qa_path.name}: {len(questions)} questions; so far {answerable} answerable, hits {hits}", file=sys.stderr
        )
    report = {
        "weeks": len(weeks),
        "questions": asked,
        "answerable": answerable,
        "top10_differing": differing,
        "hit_at": {name: {k: round(100 * v / max(answerable, 1), 1) for k, v in h.items()} for name, h in hits.items()},
        "keyword_ms": {name: _spread(values) for name, values in latency.items()},
    }
    print(json.dumps(report, indent=2))


def one_store(profiles: dict[str, dict], weeks: list[Path]) -> dict[str, Any]:
    """Every week's articles in one store per backend; each question asked unscoped for ``retrieval.keyword_k``
    (50) chunks, as retrieval does: the latency a large store gives, hit@k on the questions whose gold text is in
    their own articles, and how the top 50s differ: between the backends, and between PostgreSQL's query (the
    top of each term's postings) and every match scored there."""
    from newsbot.corpus.postgres_registry import PostgresRegistry
    from newsbot.corpus.store import Store
    from newsbot.evaluation import contains_normalized, load_realtimeqa, normalize, scope_filter
    from newsbot.ingest.pipeline import ingest
    from newsbot.records import Filters
    from newsbot.settings import Settings, postgres_dsn
    from tests.fake_encoder import HashingEncoder

    corpora = {path: path.with_name(path.name.removesuffix("_qa.jsonl") + "_gcs.jsonl") for path in weeks}
    questions = [question for path in weeks for question in load_realtimeqa(path, corpora[path])]
    exact = PostgresRegistry(postgres_dsn())
    exact.keyword_pool = 2**62  # never fewer postings than that: every match is scored
    ranked: dict[str, list[list[str]]] = {}
    latency: dict[str, list[float]] = {}
    hits: dict[str, dict[int, int]] = {}
    chunks, answerable = {}, 0
    for name, store_section in profiles.items():
        with Store(Settings.model_validate({"store": store_section}), write=True, encoder=HashingEncoder()) as store:
            store.delete(store.article_ids())
            ingest([str(path) for path in corpora.values()], store)
            chunks[name] = store.summary()["chunks"]
            texts = {a: normalize(store.article(a).text) for a in store.article_ids()}
            legs = {name: store.keyword_search}
            if name == "postgres":
                legs["postgres, every match scored"] = exact.keyword_search
            for leg, search in legs.items():
                ranked[leg], latency[leg], hits[leg] = [], [], dict.fromkeys((*HIT_AT, 50), 0)
                answerable = 0
                for question in questions:
                    started = time.perf_counter()
                    found = search(question.question, 50)
                    latency[leg].append((time.perf_counter() - started) * 1000)
                    ranked[leg].append([cid for cid, _ in found])
                    golds = [normalize(g) for g in question.gold if normalize(g)]
                    scope = (scope_filter(store, question.keys) or Filters()).article_ids or ()
                    if not any(contains_normalized(texts[a], golds) for a in scope):
                        continue
                    answerable += 1
                    passages = store.passages(found)
                    ranks = [i for i, p in enumerate(passages) if contains_normalized(normalize(p.text), golds)]
                    for k in hits[leg]:
                        hits[leg][k] += bool(ranks) and ranks[0] < k
    exact.close()
    pruned, every = ranked["postgres"], ranked["postgres, every match scored"]
    return {
        "questions": len(questions),
        "answerable": answerable,
        "chunks": chunks,
        "top50_differing": sum(a != b for a, b in zip(ranked["sqlite"], pruned, strict=True)),
        "top50_overlap_postgres_with_every_match": round(
            statistics.mean(len(set(a) & set(b)) / len(b) for a, b in zip(pruned, every, strict=True) if b), 3
        ),
        "hit_at": {leg: {k: round(100 * v / max(answerable, 1), 1) for k, v in h.items()} for leg, h in hits.items()},
        "keyword_ms": {name: _spread(values) for name, values in latency.items()},
    }


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 2), "p95": round(statistics.quantiles(values, n=20)[-1], 2)}


if __name__ == "__main__":
    main()
