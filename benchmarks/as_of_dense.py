"""The dense leg of a question asked as of a past day (`newsbot eval`, `ask --as-of`), top-50, three ways:
  before       Chroma filtered by a `$nin` of every article published after the day (the way before this script)
  days         Chroma filtered by the day in the chunks' metadata (undated chunks are day 0): the product's
               fallback when another filter applies or the wider search leaves too few
  the product  ``Store.nearest``: the nearest 3 x 50 unfiltered, the later articles' chunks dropped
Prints ms p50 / p90 / p99 of each (the registry's list of later articles included where used), how many ids the
list held, and how much of the exact top-50 (every visible vector scored) each finds.

Each question is asked as of its own `question_date`, warm, one process, each way in a pass of its own (a way
timed between the others ran in their wake: the product's p50 at 1M read 367 ms so, 23 ms in its own pass);
the question's vector is encoded once, outside the timing. A store written before its undated chunks carried
day 0 is dated first by opening it as a writer (the product does that at a writer's first open; printed with
its time).

    python benchmarks/as_of_dense.py --store var/q1 ../shared/data/realtimeqa-2025q1/*_qa.jsonl
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
TOP = 50


def spread(values: list[float]) -> str:
    """p50 / p90 / p99, as scale_bench.py computes them."""
    from scale_bench import percentiles

    return " / ".join(f"{value:.1f}" for value in percentiles(values).values())


def main() -> None:
    from newsbot.corpus.store import VECTOR_DAYS, Store
    from newsbot.evaluation import load_realtimeqa
    from newsbot.records import Filters
    from newsbot.settings import load_settings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("questions", nargs="+", type=Path, help="RealTimeQA _qa.jsonl files")
    parser.add_argument("--store", type=Path, required=True, help="the store folder (store.path)")
    parser.add_argument("--limit", type=int, default=0, help="ask only the first N questions")
    args = parser.parse_args()
    config = load_settings()
    config = config.model_copy(update={"store": config.store.model_copy(update={"path": args.store})})
    questions = [q for path in args.questions for q in load_realtimeqa(path) if q.as_of][: args.limit or None]
    with Store(config) as store:
        dated = store._registry.meta().get(VECTOR_DAYS) == "1"
    if not dated:
        started = time.perf_counter()
        with Store(config, write=True) as writer:
            undated = len(writer._registry.undated_chunk_ids())
        seconds = time.perf_counter() - started
        print(f"dated the store's vectors at a writer's open: {undated} undated chunks, {seconds:.1f} s")
    with Store(config) as store:
        vectors = store._current_vectors()
        ids = sorted(vectors.ids())
        matrix, metadatas = vectors.records(ids)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        articles = np.array([meta["article_id"] for meta in metadatas])
        print(f"store {args.store}: {store.summary()['articles']} articles, {len(ids)} vectors; "
              f"{len(questions)} questions, each as of its question_date")  # fmt: skip
        asked = [(Filters(as_of=q.as_of), store.encode([q.question])[0]) for q in questions]
        ways: dict[str, Callable[[Filters, np.ndarray], list[tuple[str, float]]]] = {
            "before: later articles listed ($nin)": lambda f, v: vectors.query(
                v, TOP, f, store._registry.published_after(f.as_of or "")
            ),
            "days compared in Chroma": lambda f, v: vectors.query(v, TOP, f),
            "the product: wider search, later dropped": lambda f, v: store.nearest(v, TOP, f),
        }
        times: dict[str, list[float]] = {name: [] for name in ways}
        recall: dict[str, list[float]] = {name: [] for name in ways}
        listed, exact = [], []
        for filters, vector in asked:
            hidden = store._registry.published_after(filters.as_of or "")
            listed.append(len(hidden))
            scores = matrix @ (vector / np.linalg.norm(vector))
            scores[np.isin(articles, hidden)] = -np.inf
            exact.append({ids[i] for i in np.argsort(-scores)[:TOP]})
        for name, way in ways.items():  # each way in its own pass, so that no way runs in another's wake
            for filters, vector in asked[:5]:  # warm-up, unmeasured
                way(filters, vector)
            for (filters, vector), best in zip(asked, exact, strict=True):
                started = time.perf_counter()
                found = way(filters, vector)
                times[name].append((time.perf_counter() - started) * 1000)
                recall[name].append(len(best.intersection(cid for cid, _ in found)) / TOP)
    print(f"ids listed per question: median {statistics.median(listed):.0f}, max {max(listed)}")
    print(f"{'dense top-50 as of a past day':<44} {'ms p50 / p90 / p99':>22}  share of the exact top-50")
    for name in ways:
        print(f"  {name:<42} {spread(times[name]):>22}  {statistics.mean(recall[name]):.3f}")


if __name__ == "__main__":
    main()
