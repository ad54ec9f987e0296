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
with build time, disk, RSS and the load average.

The server profile (``--backend postgres``, one size per run): the registry in the PostgreSQL database named by
NEWSBOT_STORE__POSTGRES__DSN (empty, or filled by an earlier run), the vectors on the `chroma run` at
--chroma-port. Its build is ``newsbot migrate --to postgres`` of the sqlite store of the same size (built first
if missing: nothing is re-embedded), then the first open (schema migrations, timed), then this machine's Tantivy
index built from PostgreSQL (timed). Its keyword legs: both engines' queries (the registry's: the top of each
term's postings; tantivy) against every match scored (the exact BM25, the reference for the overlap); `ask` runs
in a process with Chroma over HTTP, and the Chroma server's RSS is reported beside the answering process's.

    python benchmarks/scale_bench.py [--sizes 100000,300000,1000000] [--out var/scale] [--no-vectors]
        [--engines tantivy,registry] [--keyword-only] [--limit N]
    NEWSBOT_STORE__POSTGRES__DSN=postgresql://... python benchmarks/scale_bench.py --backend postgres \\
        --sizes 1000000 --chroma-port 8000 [--chroma-path DIR]
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


def status_mb(fields: tuple[str, ...] = ("VmRSS",), pid: int | str = "self") -> dict[str, float]:
    """Memory fields (VmRSS, RssAnon, ...) of a process's /proc status, MB."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {name: int(line.split()[1]) / 1024 for line in lines for name in fields if line.startswith(name + ":")}


def rss_mb() -> float:
    return status_mb().get("VmRSS", 0.0)


def folder_mb(folder: Path) -> float:
    return round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20, 1)


def settings_for(folder: Path, chroma_port: int = 0) -> Any:
    """The store at ``folder``; with ``chroma_port``, the server profile (PostgreSQL from the environment)."""
    from newsbot.settings import POSTGRES_DSN_ENV, load_settings

    environ = {"NEWSBOT_STORE__PATH": str(folder)}
    if chroma_port:
        environ.update(
            {name: os.environ[name] for name in POSTGRES_DSN_ENV if name in os.environ},
            NEWSBOT_STORE__BACKEND="postgres",
            NEWSBOT_STORE__CHROMA__MODE="http",
            NEWSBOT_STORE__CHROMA__HOST="127.0.0.1",
            NEWSBOT_STORE__CHROMA__PORT=str(chroma_port),
        )
    return load_settings(environ=environ)


def process_rss_mb(pid: int) -> float:
    return status_mb(pid=pid).get("VmRSS", 0.0)


def chroma_server_rss_mb(port: int) -> float | None:
    """RSS of the `chroma run` serving ``port`` on this machine (None when it is not found here)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"chroma" in a for a in argv[:2]) and b"run" in argv and str(port).encode() in argv:
            return round(process_rss_mb(int(cmdline.parent.name)))
    return None


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


def engine_settings(folder: Path, engine: str, chroma_port: int = 0) -> Any:
    """The store's settings with ``store.keyword_engine`` set."""
    config = settings_for(folder, chroma_port)
    return config.model_copy(update={"store": config.store.model_copy(update={"keyword_engine": engine})})


def load_questions(limit: int, folders: tuple[Path, ...] = (QUESTIONS,)) -> list[str]:
    """The first ``limit`` (0: all) distinct questions of the RealTimeQA ``folders``, as plain text."""
    from newsbot.ingest.formats import html_fragment_text

    questions = [
        html_fragment_text(json.loads(line)["question_sentence"])
        for folder in folders
        for path in sorted(folder.glob("*_qa.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    return list(dict.fromkeys(questions))[: limit or None]


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


def phase_index(folder: Path, chroma_port: int = 0) -> dict[str, Any]:
    """Open the store as a writer with the Tantivy engine: builds or catches up its index (in the server profile
    this machine's, from PostgreSQL), timed."""
    from newsbot.corpus.store import Store

    started = time.perf_counter()
    with Store(engine_settings(folder, "tantivy", chroma_port), write=True):
        pass
    disk = sum(folder_mb(index) for index in folder.glob("tantivy*") if index.is_dir())
    return {"tantivy_open_s": round(time.perf_counter() - started, 1), "tantivy_disk_mb": disk}


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


def phase_ask(folder: Path, limit: int, engine: str, chroma_port: int = 0) -> dict[str, Any]:
    """One answering process, as the bot is: dense, retrieval and the whole offline ``ask`` with ``engine``, and
    the process's RSS after the questions (and the Chroma server's, in the server profile)."""
    from newsbot.corpus.store import Store
    from newsbot.qa.chain import QA
    from newsbot.qa.recency import today
    from newsbot.records import Filters

    questions = load_questions(limit)
    config = engine_settings(folder, engine, chroma_port)
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
            **({"chroma_server_rss_mb": chroma_server_rss_mb(chroma_port)} if chroma_port else {}),
        }


def phase_migrate(folder: Path, source: Path, chroma_port: int) -> dict[str, Any]:
    """The server profile's build: `newsbot migrate --to postgres` of the sqlite store ``source``, then the first
    open of the target (its schema migrations)."""
    from newsbot.corpus.store import Store

    newsbot = Path(sys.executable).parent / "newsbot"
    started = time.perf_counter()
    done = subprocess.run(
        [newsbot, "migrate", "--to", "postgres", "--chroma-host", "127.0.0.1", "--chroma-port", str(chroma_port),
         "--json"],
        env={**os.environ, "NEWSBOT_STORE__PATH": str(source)}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode:
        raise SystemExit(f"newsbot migrate failed:\n{done.stderr[-3000:]}")
    migrated = time.perf_counter() - started
    started = time.perf_counter()
    with Store(settings_for(folder, chroma_port)) as store:
        opened = time.perf_counter() - started
        summary = store.summary()
    return {
        "source": str(source),
        "migrate_s": round(migrated, 1),
        "first_open_s": round(opened, 1),
        "counts": json.loads(done.stdout)["counts"],
        "chunks": summary["chunks"],
    }


def phase_keyword_postgres(folder: Path, limit: int, chroma_port: int) -> dict[str, Any]:
    """The product's PostgreSQL keyword query against every match scored (exact BM25), and the idf lookups."""
    from newsbot.corpus.postgres_registry import PostgresRegistry
    from newsbot.corpus.store import Store
    from newsbot.qa.recency import today
    from newsbot.records import Filters
    from newsbot.settings import postgres_dsn
    from newsbot.text import content_terms

    questions = load_questions(limit)
    filters = Filters(as_of=today())
    exact = PostgresRegistry(postgres_dsn())
    exact.keyword_pool = 2**62  # never fewer postings than that: every match is scored
    with (
        Store(engine_settings(folder, "registry", chroma_port)) as store,
        Store(engine_settings(folder, "tantivy", chroma_port)) as tantivy,
    ):
        legs: dict[str, Callable[..., list[tuple[str, float]]]] = {
            "keyword postgres every match": exact.keyword_search,
            "keyword postgres": store.keyword_search,
            "keyword tantivy": tantivy.keyword_search,
        }
        steps: dict[str, Callable[[str], Any]] = {
            **{name: (lambda q, leg=leg: leg(q, K, filters)) for name, leg in legs.items()},
            "idf postgres": lambda q: store.idf(content_terms(q)),
            "idf tantivy": lambda q: tantivy.idf(content_terms(q)),
        }
        times, found = timed(steps, questions)
    database_mb = round(exact.size_bytes() / 2**20)
    exact.close()
    overlap = {
        leg: round(
            statistics.mean(
                len(reference & {cid for cid, _ in results[leg]}) / len(reference)
                for results in found
                if (reference := {cid for cid, _ in results["keyword postgres every match"]})
            ),
            3,
        )
        for leg in ("keyword postgres", "keyword tantivy")
    }
    return {
        "questions": len(questions),
        "latency_ms": {name: percentiles(values) for name, values in times.items()},
        "top50_overlap_with_every_match": overlap,
        "database_mb": database_mb,
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
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--chroma-port", type=int, default=8000, help="postgres: the `chroma run` on 127.0.0.1")
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
    server = args.chroma_port if args.backend == "postgres" else 0
    if args.phase:
        name, folder, *rest = args.phase
        phases: dict[str, Callable[[], dict[str, Any]]] = {
            "build": lambda: phase_build(Path(folder), int(rest[0]), vectors, args.sample, args.noise),
            "migrate": lambda: phase_migrate(Path(folder), Path(rest[0]), server),
            "index": lambda: phase_index(Path(folder), server),
            "keyword": lambda: phase_keyword(Path(folder), args.limit),
            "keyword-postgres": lambda: phase_keyword_postgres(Path(folder), args.limit, server),
            "ask": lambda: phase_ask(Path(folder), args.limit, rest[0], server),
        }
        print(json.dumps(phases[name]()))
        return
    out = Path(args.out).resolve()
    limit = ["--limit", str(args.limit)]
    profile = ["--backend", args.backend, "--chroma-port", str(args.chroma_port)]
    for size in (int(s) for s in args.sizes.split(",")):
        report: dict[str, Any] = {"backend": args.backend, "size": size, "load_average": os.getloadavg()}
        source = out / f"sqlite-{size}{'' if vectors else '-novec'}"
        if not (source / "built.json").exists():  # a build's figures, written when it finished
            source.mkdir(parents=True, exist_ok=True)
            sample = ["--sample", str(args.sample), "--noise", str(args.noise)]
            registry_only = [] if vectors else ["--no-vectors"]
            (source / "built.json").write_text(
                json.dumps(run_phase("build", str(source), str(size), *sample, *registry_only))
            )
        if args.backend == "sqlite":
            folder = source
            report["build"] = json.loads((folder / "built.json").read_text())
            report["index"] = run_phase("index", str(folder))
        else:
            folder = out / f"postgres-{size}"
            if not (folder / "built.json").exists():
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "built.json").write_text(json.dumps(run_phase("migrate", str(folder), str(source), *profile)))
            report["build"] = json.loads((folder / "built.json").read_text())
            report["index"] = run_phase("index", str(folder), *profile)
        if not args.build_only:
            if args.backend == "sqlite":
                report["keyword"] = run_phase("keyword", str(folder), *limit)
            else:
                report["keyword"] = run_phase("keyword-postgres", str(folder), *limit, *profile)
            if vectors and not args.keyword_only:
                engines = args.engines.split(",")
                report["ask"] = [run_phase("ask", str(folder), engine, *limit, *profile) for engine in engines]
        report["load_average_after"] = os.getloadavg()
        print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
