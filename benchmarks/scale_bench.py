"""A million chunks on one machine: store build and question latency at 100k, 300k and 1M chunks.

Builds one store per size under --out from the shared data's real article texts (benchmarks/scale_corpus.py:
the product's chunker; vectors are real embeddings of a sample plus noise, written through the store's internal
parts), then, each size in its own process (its own peak RSS), asks the 250 RealTimeQA 2025q1 questions, warm,
as of today, and prints p50/p90/p99 of
  dense        Chroma top-50 (with encoding the question)
  keyword      the product's BM25 top-50, and the other keyword legs of benchmarks/keyword_options.py, the
               baseline (the query before the scale work) among them, each with the overlap of its top-50 with
               the baseline's
  idf          the document frequencies the answerer weighs the question's terms by
  retrieval    the product's hybrid retrieval (dense + keyword + fusion + records)
  ask          the whole offline answer (retrieval + the configured reader)
with build time, disk and RSS. Only the sqlite backend is measured (``--backend postgres`` is not written yet).

    python benchmarks/scale_bench.py [--sizes 100000,300000,1000000] [--out var/scale] [--no-vectors] [--tantivy]
"""

from __future__ import annotations

import argparse
import json
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


def phase_measure(folder: Path, limit: int, with_tantivy: bool, answers: bool) -> dict[str, Any]:
    from keyword_options import Baseline, RareTerms

    from newsbot.corpus.store import REGISTRY_FILE, Store
    from newsbot.qa.chain import QA
    from newsbot.qa.recency import today
    from newsbot.records import Filters
    from newsbot.text import content_terms

    questions = [
        json.loads(line)["question_sentence"]
        for path in sorted(QUESTIONS.glob("*_qa.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ][: limit or None]
    config = settings_for(folder)
    registry = folder / REGISTRY_FILE
    filters = Filters(as_of=today())
    result: dict[str, Any] = {"questions": len(questions)}
    with Store(config) as store:
        legs: dict[str, Callable[..., list[tuple[str, float]]]] = {
            "keyword baseline": Baseline(registry).search,
            "keyword product": store.keyword_search,
            "keyword df<=10%": RareTerms(registry, 0.10).search,
            "keyword df<=2%": RareTerms(registry, 0.02).search,
        }
        if with_tantivy:
            from tantivy_leg import Tantivy

            started = time.perf_counter()
            engine = Tantivy(registry, folder / "tantivy")
            if engine.built:
                result["tantivy_build_s"] = round(time.perf_counter() - started, 1)
            result["tantivy_disk_mb"] = folder_mb(folder / "tantivy")
            legs["keyword tantivy"] = engine.search
            legs["keyword tantivy unfiltered"] = lambda q, limit, _: engine.search(q, limit, Filters())
        steps: dict[str, Callable[[str], object]] = {
            **{name: (lambda q, leg=leg: leg(q, K, filters)) for name, leg in legs.items()},
            "idf": lambda q: store.idf(content_terms(q)),
        }
        qa = QA(store, config)  # without vectors, Chroma is empty: dense finds nothing, the rest runs as usual
        if answers:
            steps |= {
                "dense": lambda q: store.dense_search(q, K, filters),
                "retrieval": lambda q: qa.retriever.passages(q, filters),
                "ask": lambda q: qa.ask(q),
            }
        for question in questions[:WARM_QUESTIONS]:
            for step in steps.values():
                step(question)
        times: dict[str, list[float]] = {name: [] for name in steps}
        overlap: dict[str, list[float]] = {name: [] for name in legs}
        for question in questions:
            found = {}
            for name, step in steps.items():
                started = time.perf_counter()
                found[name] = step(question)
                times[name].append((time.perf_counter() - started) * 1000)
            reference = {cid for cid, _ in found["keyword baseline"]}
            for name in legs:
                if reference:
                    overlap[name].append(len(reference & {cid for cid, _ in found[name]}) / len(reference))
        result["latency_ms"] = {name: percentiles(values) for name, values in times.items()}
        result["top50_overlap_with_baseline"] = {
            name: round(statistics.mean(values), 3) for name, values in overlap.items() if values
        }
        result["rss_mb"] = round(rss_mb())
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    result["disk_mb"] = {
        "registry": round(folder_mb(folder) - folder_mb(folder / "chroma") - folder_mb(folder / "tantivy"), 1),
        "chroma": folder_mb(folder / "chroma"),
    }
    return result


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
    parser.add_argument("--tantivy", action="store_true", help="also measure a Tantivy index of the chunks")
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
        if name == "build":
            result = phase_build(Path(folder), int(rest[0]), vectors, args.sample, args.noise)
        else:
            result = phase_measure(Path(folder), args.limit, args.tantivy, not args.keyword_only)
        print(json.dumps(result))
        return
    extra = [
        *(["--no-vectors"] if not vectors else []),
        *(["--tantivy"] if args.tantivy else []),
        *(["--keyword-only"] if args.keyword_only else []),
    ]
    for size in (int(s) for s in args.sizes.split(",")):
        folder = Path(args.out).resolve() / f"{args.backend}-{size}{'' if vectors else '-novec'}"
        report: dict[str, Any] = {"backend": args.backend, "size": size}
        built = folder / "built.json"  # a build's figures, written when it finished
        if not built.exists():
            folder.mkdir(parents=True, exist_ok=True)
            sample = ["--sample", str(args.sample), "--noise", str(args.noise)]
            built.write_text(json.dumps(run_phase("build", str(folder), str(size), *sample, *extra)))
        report["build"] = json.loads(built.read_text())
        if not args.build_only:
            report["measure"] = run_phase("measure", str(folder), "--limit", str(args.limit), *extra)
        print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
