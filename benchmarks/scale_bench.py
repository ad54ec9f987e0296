"""A million chunks on one machine: store build and question latency at 100k, 300k and 1M chunks.

Builds one store per size under --out from the shared data's real article texts (benchmarks/scale_corpus.py:
the product's chunker; vectors are real embeddings of a sample plus noise, written through the store's internal
parts), opens it as a writer with the Tantivy engine (building its index: timed), then asks the 250 RealTimeQA
2025q1 questions, warm, as of today, each phase in its own process (its own RSS), and prints p50/p90/p99 of
  keyword      the BM25 top-50 of both product engines (store.keyword_engine: registry = FTS5, tantivy) and the
               other keyword legs of benchmarks/keyword_options.py, the baseline (the query before the scale
               work) among them, each with the overlap of its top-50 with the baseline's
  idf          the document frequencies the answerer weighs the question's terms by, per engine
and, in one answering process per engine of --engines (as the bot is; with vectors only)
  dense        Chroma top-50 (with encoding the question)
  retrieval    the product's hybrid retrieval (dense + keyword + fusion + records)
  ask          the whole offline answer (retrieval + the configured reader)
with build time, disk, RSS and the load average. Only the sqlite backend is measured.

    python benchmarks/scale_bench.py [--sizes 100000,300000,1000000] [--out var/scale] [--no-vectors]
        [--engines tantivy,registry] [--keyword-only] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
QUESTIONS = ROOT.parent / "shared" / "data" / "realtimeqa-2025q1"
K = 50
WARM_QUESTIONS = 10


def percentiles(times: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return {"p50": round(statistics.median(times), 1), "p90": round(cuts[89], 1), "p99": round(cuts[98], 1)}


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def folder_mb(folder: Path) -> float:
    return round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20, 1)


def settings_for(folder: Path) -> Any:
    from newsbot.settings import load_settings

    return load_settings(environ={"NEWSBOT_STORE__PATH": str(folder)})


def phase_build(folder: Path, size: int, vectors: bool, sample: int, noise: float) -> dict[str, Any]:
    from scale_corpus import build, sample_vectors, shared_articles

    from newsbot.corpus.store import Store

    started = time.perf_counter()
    articles = shared_articles()
    read = time.perf_counter() - started
    with Store(settings_for(folder), write=True) as store:
        store.warm_up()  # records the model in the registry
        started = time.perf_counter()
        cached = folder.parent / f"sample-{sample}.npy"  # the same sample for every size: embedded once
        if vectors and not cached.exists():
            np.save(cached, sample_vectors(store, articles, sample))
        bases = np.load(cached) if vectors else None
        embedded = time.perf_counter() - started
        started = time.perf_counter()
        count = build(store, articles, size, bases, noise)
        built = time.perf_counter() - started
        chunks = store.summary()["chunks"]
    return {
        "articles": count,
        "chunks": chunks,
        "read_s": round(read, 1),
        "sample_embed_s": round(embedded, 1),
        "build_s": round(built, 1),
        "vectors": f"{sample} real embeddings + N(0, {noise}) noise" if vectors else "none",
        "build_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def engine_settings(folder: Path, engine: str) -> Any:
    """The store's settings with ``store.keyword_engine`` set."""
    config = settings_for(folder)
    return config.model_copy(update={"store": config.store.model_copy(update={"keyword_engine": engine})})


def load_questions(limit: int) -> list[str]:
    questions = [
        json.loads(line)["question_sentence"]
        for path in sorted(QUESTIONS.glob("*_qa.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    return questions[: limit or None]


def timed(steps: dict[str, Callable[[str], Any]], questions: list[str]) -> tuple[dict[str, list[float]], list[dict]]:
    """Each step's milliseconds per question (after WARM_QUESTIONS unmeasured), and what each step found."""
    for question in questions[:WARM_QUESTIONS]:
        for step in steps.values():
            step(question)
    times: dict[str, list[float]] = {name: [] for name in steps}
    found: list[dict] = []
    for question in questions:
        found.append({})
        for name, step in steps.items():
            started = time.perf_counter()
            found[-1][name] = step(question)
            times[name].append((time.perf_counter() - started) * 1000)
    return times, found


def phase_index(folder: Path) -> dict[str, Any]:
    """Open the store as a writer with the Tantivy engine: builds or catches up its index, timed."""
    from newsbot.corpus.store import Store

    started = time.perf_counter()
    with Store(engine_settings(folder, "tantivy"), write=True):
        pass
    return {"tantivy_open_s": round(time.perf_counter() - started, 1), "tantivy_disk_mb": folder_mb(folder / "tantivy")}


def phase_keyword(folder: Path, limit: int) -> dict[str, Any]:
    """The keyword legs (both product engines, the baseline, frequent terms dropped) and each engine's idf."""
    from keyword_options import Baseline, RareTerms

    from newsbot.corpus.store import REGISTRY_FILE, Store
    from newsbot.qa.recency import today
    from newsbot.records import Filters
    from newsbot.text import content_terms

    questions = load_questions(limit)
    registry = folder / REGISTRY_FILE
    filters = Filters(as_of=today())
    with Store(engine_settings(folder, "registry")) as fts5, Store(engine_settings(folder, "tantivy")) as tantivy:
        legs: dict[str, Callable[..., list[tuple[str, float]]]] = {
            "keyword baseline": Baseline(registry).search,
            "keyword fts5": fts5.keyword_search,
            "keyword df<=10%": RareTerms(registry, 0.10).search,
            "keyword df<=2%": RareTerms(registry, 0.02).search,
            "keyword tantivy": tantivy.keyword_search,
            "keyword tantivy unfiltered": lambda q, limit, _: tantivy.keyword_search(q, limit),
        }
        steps: dict[str, Callable[[str], Any]] = {
            **{name: (lambda q, leg=leg: leg(q, K, filters)) for name, leg in legs.items()},
            "idf fts5": lambda q: fts5.idf(content_terms(q)),
            "idf tantivy": lambda q: tantivy.idf(content_terms(q)),
        }
        times, found = timed(steps, questions)
    overlap: dict[str, list[float]] = {name: [] for name in legs}
    for results in found:
        reference = {cid for cid, _ in results["keyword baseline"]}
        for name in legs:
            if reference:
                overlap[name].append(len(reference & {cid for cid, _ in results[name]}) / len(reference))
    return {
        "questions": len(questions),
        "latency_ms": {name: percentiles(values) for name, values in times.items()},
        "top50_overlap_with_baseline": {name: round(statistics.mean(v), 3) for name, v in overlap.items() if v},
    }


def phase_ask(folder: Path, limit: int, engine: str) -> dict[str, Any]:
    """One answering process, as the bot is: dense, retrieval and the whole offline ``ask`` with ``engine``, and
    the process's RSS after the questions."""
    from newsbot.corpus.store import Store
    from newsbot.qa.chain import QA
    from newsbot.qa.recency import today
    from newsbot.records import Filters

    questions = load_questions(limit)
    config = engine_settings(folder, engine)
    filters = Filters(as_of=today())
    with Store(config) as store:
        qa = QA(store, config)
        times, _ = timed(
            {
                "dense": lambda q: store.dense_search(q, K, filters),
                "retrieval": lambda q: qa.retriever.passages(q, filters),
                "ask": lambda q: qa.ask(q),
            },
            questions,
        )
        return {
            "engine": engine,
            "questions": len(questions),
            "latency_ms": {name: percentiles(values) for name, values in times.items()},
            "rss_mb": round(rss_mb()),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "disk_mb": {"total": folder_mb(folder), "chroma": folder_mb(folder / "chroma")},
        }


def run_phase(*args: str) -> dict[str, Any]:
    """A phase in its own process (its own peak RSS), its JSON result."""
    done = subprocess.run([sys.executable, __file__, "--phase", *args], capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"phase {args[0]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,300000,1000000", help="chunks per store, comma-separated")
    parser.add_argument("--out", default="var/scale", help="where the stores are built (kept for later runs)")
    parser.add_argument("--backend", choices=("sqlite",), default="sqlite", help="postgres: not written yet")
    parser.add_argument("--no-vectors", action="store_true", help="registry only: keyword legs and idf alone")
    parser.add_argument(
        "--engines", default="tantivy,registry", help="store.keyword_engine values `ask` is measured with, in turn"
    )
    parser.add_argument("--sample", type=int, default=3000, help="chunks really embedded for the vectors")
    parser.add_argument("--noise", type=float, default=0.02, help="standard deviation of the noise per dimension")
    parser.add_argument("--limit", type=int, default=0, help="at most this many questions (0: all 250)")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--keyword-only", action="store_true", help="measure the keyword legs and idf alone")
    parser.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    vectors = not args.no_vectors
    if args.phase:
        name, folder, *rest = args.phase
        phases: dict[str, Callable[[], dict[str, Any]]] = {
            "build": lambda: phase_build(Path(folder), int(rest[0]), vectors, args.sample, args.noise),
            "index": lambda: phase_index(Path(folder)),
            "keyword": lambda: phase_keyword(Path(folder), args.limit),
            "ask": lambda: phase_ask(Path(folder), args.limit, rest[0]),
        }
        print(json.dumps(phases[name]()))
        return
    for size in (int(s) for s in args.sizes.split(",")):
        folder = Path(args.out).resolve() / f"{args.backend}-{size}{'' if vectors else '-novec'}"
        report: dict[str, Any] = {"backend": args.backend, "size": size, "load_average": os.getloadavg()}
        built = folder / "built.json"  # a build's figures, written when it finished
        if not built.exists():
            folder.mkdir(parents=True, exist_ok=True)
            sample = ["--sample", str(args.sample), "--noise", str(args.noise)]
            registry_only = [] if vectors else ["--no-vectors"]
            built.write_text(json.dumps(run_phase("build", str(folder), str(size), *sample, *registry_only)))
        report["build"] = json.loads(built.read_text())
        report["index"] = run_phase("index", str(folder))
        if not args.build_only:
            limit = ["--limit", str(args.limit)]
            report["keyword"] = run_phase("keyword", str(folder), *limit)
            if vectors and not args.keyword_only:
                report["ask"] = [run_phase("ask", str(folder), engine, *limit) for engine in args.engines.split(",")]
        report["load_average_after"] = os.getloadavg()
        print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
