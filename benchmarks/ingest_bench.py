"""Ingest throughput: our pipeline vs the raw model.encode ceiling vs a naive LangChain pipeline.

Reads the distinct articles of ../shared/data/realtimeqa-2025q1 (a subset with --articles), then runs each
phase in its own process so that each reports its own peak RSS:
  ours      newsbot's ingest (read + chunk + embed + Chroma + registry) into a fresh store
  raw       the encoder alone on exactly the texts our pipeline embedded (configured backend, then torch fp32)
  naive     RecursiveCharacterTextSplitter(1000, 200) + HuggingFaceEmbeddings + Chroma.from_documents
It also checks that the configured backend leaves retrieval unchanged: top-10 neighbours of the
benchmark's questions over the same chunks, configured backend vs torch fp32.

    python benchmarks/ingest_bench.py [--articles N] [--skip-naive]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "realtimeqa-2025q1"
REFERENCE = "torch-fp32"


def distinct_articles(limit: int) -> list[dict]:
    seen_urls: set[str] = set()
    seen_texts: set[str] = set()
    articles = []
    for path in sorted(DATA.glob("*_gcs.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            for result in json.loads(line)["search_result"]:
                text = (result.get("text") or "").strip()
                if not text or result["url"] in seen_urls or text in seen_texts:
                    continue
                seen_urls.add(result["url"])
                seen_texts.add(text)
                articles.append(result)
    return articles[:limit] if limit else articles


def questions() -> list[str]:
    return [
        json.loads(line)["question_sentence"]
        for path in sorted(DATA.glob("*_qa.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase_ours(corpus: Path, work: Path) -> dict:
    from newsbot.corpus.store import Store
    from newsbot.ingest.pipeline import ingest
    from newsbot.settings import load_settings

    config = load_settings(environ={"NEWSBOT_STORE__PATH": str(work / "ours")})
    with Store(config, write=True) as store:
        loaded = time.perf_counter()
        store.warm_up()
        load_seconds = time.perf_counter() - loaded
        report = ingest([str(corpus)], store)
        texts = []
        for article_id in store.article_ids():
            title = store.article(article_id).title
            texts.extend(store.embedding_text(chunk, title) for chunk in store.chunks_of(article_id))
        label = store.model_runtime
    (work / "texts.json").write_text(json.dumps(texts))
    chars = sum(len(a["text"]) for a in map(json.loads, corpus.read_text().splitlines()))
    return {
        "articles": report.articles_new,
        "chunks": report.chunks_added,
        "seconds": report.seconds,
        "chars": chars,
        "model_load_seconds": round(load_seconds, 2),
        "label": label,
        "peak_rss_mb": peak_rss_mb(),
    }


def phase_raw(work: Path, backend: str, precision: str) -> dict:
    from newsbot.corpus.embedder import Embedder
    from newsbot.settings import EmbeddingSettings

    texts = json.loads((work / "texts.json").read_text())
    embedder = Embedder(EmbeddingSettings(backend=backend, precision=precision))
    embedder.encode(texts[:8])
    started = time.perf_counter()
    vectors = embedder.encode(texts)
    seconds = time.perf_counter() - started
    label = embedder.runtime
    np.save(work / f"chunks-{label}.npy", vectors)
    np.save(work / f"questions-{label}.npy", embedder.encode(questions()))
    return {"chunks": len(texts), "seconds": round(seconds, 3), "label": label, "peak_rss_mb": peak_rss_mb()}


def phase_naive(corpus: Path, work: Path) -> dict:
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from newsbot.corpus.embedder import model_location

    embeddings = HuggingFaceEmbeddings(model_name=model_location("sentence-transformers/all-MiniLM-L6-v2"))
    embeddings.embed_documents(["warm up"])
    started = time.perf_counter()
    docs = [
        Document(page_content=a["text"], metadata={"source": a["url"], "title": a.get("title") or ""})
        for a in map(json.loads, corpus.read_text().splitlines())
    ]
    chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
    Chroma.from_documents(chunks, embeddings, persist_directory=str(work / "naive"), collection_name="naive")
    return {
        "articles": len(docs),
        "chunks": len(chunks),
        "seconds": round(time.perf_counter() - started, 3),
        "peak_rss_mb": peak_rss_mb(),
    }


def neighbour_agreement(work: Path, label: str, k: int = 10) -> float:
    """Share of the top-k neighbours of every question that ``label`` vectors keep from torch fp32 ones."""
    chunks_ref, chunks_test = np.load(work / f"chunks-{REFERENCE}.npy"), np.load(work / f"chunks-{label}.npy")
    q_ref, q_test = np.load(work / f"questions-{REFERENCE}.npy"), np.load(work / f"questions-{label}.npy")
    top_ref = np.argsort(-(q_ref @ chunks_ref.T), axis=1)[:, :k]
    top_test = np.argsort(-(q_test @ chunks_test.T), axis=1)[:, :k]
    shared = [len(set(a) & set(b)) for a, b in zip(top_ref, top_test, strict=True)]
    return sum(shared) / (k * len(shared))


def run_phase(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--phase", *args], capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"phase {args[0]} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=300, help="how many distinct articles (0: all)")
    parser.add_argument("--skip-naive", action="store_true", help="leave out the LangChain baseline")
    parser.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        name, *rest = args.phase
        phases = {
            "ours": lambda: phase_ours(Path(rest[0]), Path(rest[1])),
            "raw": lambda: phase_raw(Path(rest[0]), rest[1], rest[2]),
            "naive": lambda: phase_naive(Path(rest[0]), Path(rest[1])),
        }
        print(json.dumps(phases[name]()))
        return
    if not DATA.is_dir():
        raise SystemExit(f"benchmark data not found at {DATA}")
    with tempfile.TemporaryDirectory(prefix="newsbot-bench-") as tmp:
        work = Path(tmp)
        corpus = work / "articles.jsonl"
        articles = distinct_articles(args.articles)
        corpus.write_text("\n".join(json.dumps(a) for a in articles) + "\n")
        ours = run_phase("ours", str(corpus), str(work))
        raw = run_phase("raw", str(work), *ours["label"].split("-"))
        raw32 = raw if ours["label"] == REFERENCE else run_phase("raw", str(work), *REFERENCE.split("-"))
        naive = None if args.skip_naive else run_phase("naive", str(corpus), str(work))
        agreement = neighbour_agreement(work, ours["label"])
    report(ours, raw, raw32, naive, agreement)


def report(ours: dict, raw: dict, raw32: dict, naive: dict | None, agreement: float) -> None:
    ours_cps = ours["chunks"] / ours["seconds"]
    raw_cps = raw["chunks"] / raw["seconds"]
    print(f"corpus: {ours['articles']} distinct articles, {ours['chars'] / 1e6:.1f} M characters")
    print(f"model load: {ours['model_load_seconds']} s (not counted below); backend: {ours['label']}")
    rows = [
        ("newsbot ingest", ours["chunks"], ours["seconds"], ours["peak_rss_mb"]),
        (f"raw encode ({raw['label']})", raw["chunks"], raw["seconds"], raw["peak_rss_mb"]),
    ]
    if raw32 is not raw:
        rows.append((f"raw encode ({REFERENCE})", raw32["chunks"], raw32["seconds"], raw32["peak_rss_mb"]))
    if naive:
        rows.append(("naive LangChain (1000/200, fp32)", naive["chunks"], naive["seconds"], naive["peak_rss_mb"]))
    print(f"{'pipeline':<36}{'chunks':>8}{'seconds':>10}{'chunks/s':>10}{'articles/s':>12}{'peak RSS MB':>13}")
    for name, chunks, seconds, rss in rows:
        print(
            f"{name:<36}{chunks:>8}{seconds:>10.1f}{chunks / seconds:>10.1f}"
            f"{ours['articles'] / seconds:>12.2f}{rss:>13.0f}"
        )
    print(f"newsbot / raw encode ceiling: {ours_cps / raw_cps:.1%} of chunks/s on the same texts")
    if naive:
        print(f"newsbot / naive LangChain: {naive['seconds'] / ours['seconds']:.2f}x faster on the same articles")
    print(
        f"top-10 neighbours of {len(questions())} questions, {ours['label']} vs {REFERENCE}: {agreement:.1%} identical"
    )


if __name__ == "__main__":
    main()
