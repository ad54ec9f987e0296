"""Question latency after the model is loaded: newsbot's full answer path against a dense-only baseline.

Asks the RealTimeQA 2025q1 questions (``question_sentence``) against the configured store and prints, from
one run, the median and 90th percentile of
  newsbot ask        rewrite + hybrid retrieval (Chroma + BM25, fused, duplicates collapsed) + offline answer
                     with the configured reader (answer.reader)
  as configured      newsbot's answer again on the same passages after its retrieval time: the figure the
                     rows below compare with (the first row also has the chain's own steps)
  heuristic reader   the same, answered by the heuristic reader on the same passages (when another is set)
  other runtime      the same, the trained reader run by the other runtime (answer.reader_runtime: openvino
                     static int8 in one call per question, or torch dynamic int8 one sentence at a time)
  sentences in fp32  the same answer with its candidate sentences embedded by the store's fp32 model, not the
                     int8 copy (answer.sentence_precision), the baseline of that change
  short texts apart  the same answer with every text batched by its length (before short texts shared a batch:
                     openvino_encoder.SHORT_TEXT), the baseline of that change
  reader on 1 thread the same answer with the trained reader on one thread (answer.reader_threads 1, the
                     default before 2026-11-27; the configured default, 0, runs it on every core)
  dense top-4        the retrieval step of a naive pipeline: one Chroma query for the 4 nearest chunks
Ingest the corpus first, e.g. ``newsbot ingest ../shared/data/realtimeqa-2025q1/*_gcs.jsonl``.

    python benchmarks/ask_latency.py [--limit N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "realtimeqa-2025q1"


def main() -> None:
    from newsbot.corpus import openvino_encoder
    from newsbot.corpus.store import Store
    from newsbot.qa.chain import QA
    from newsbot.qa.extractive import ExtractiveAnswerer
    from newsbot.settings import load_settings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=0, help="at most this many questions (0: all 250)")
    args = parser.parse_args()
    questions = [
        json.loads(line)["question_sentence"]
        for path in sorted(DATA.glob("*_qa.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    questions = questions[: args.limit] if args.limit else questions
    config = load_settings()
    with Store(config) as store:
        qa = QA(store, config)  # loads the model
        heuristic = ExtractiveAnswerer(store, config.answer.model_copy(update={"reader": "heuristic"}))
        other_runtime = "torch" if config.answer.reader_runtime == "openvino" else "openvino"
        other = ExtractiveAnswerer(store, config.answer.model_copy(update={"reader_runtime": other_runtime}))
        exact = ExtractiveAnswerer(store, config.answer.model_copy(update={"sentence_precision": "fp32"}))
        one_thread = ExtractiveAnswerer(store, config.answer.model_copy(update={"reader_threads": 1}))
        stats = store.stats()
        ours, again, theirs, others, fp32, apart, single, dense = [], [], [], [], [], [], [], []
        short_text = openvino_encoder.SHORT_TEXT
        for question in questions:
            started = time.perf_counter()
            answer, passages = qa.ask(question)
            ours.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            qa.extractive.answer(question, passages, answer.as_of)
            again.append(answer.timings["retrieve_ms"] + (time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            heuristic.answer(question, passages, answer.as_of)
            theirs.append(answer.timings["retrieve_ms"] + (time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            other.answer(question, passages, answer.as_of)
            others.append(answer.timings["retrieve_ms"] + (time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            exact.answer(question, passages, answer.as_of)
            fp32.append(answer.timings["retrieve_ms"] + (time.perf_counter() - started) * 1000)
            openvino_encoder.SHORT_TEXT = 0
            started = time.perf_counter()
            qa.extractive.answer(question, passages, answer.as_of)
            apart.append(answer.timings["retrieve_ms"] + (time.perf_counter() - started) * 1000)
            openvino_encoder.SHORT_TEXT = short_text
            started = time.perf_counter()
            one_thread.answer(question, passages, answer.as_of)
            single.append(answer.timings["retrieve_ms"] + (time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            store.dense_search(question, 4)
            dense.append((time.perf_counter() - started) * 1000)
    print(
        f"store: {stats['articles']} articles, {stats['chunks']} chunks; {len(questions)} questions; "
        f"backend {store.model_runtime}; reader {config.answer.reader} ({config.answer.reader_runtime})"
    )
    trained = config.answer.reader != "heuristic"
    rows = [  # (name, times, whether the row means anything with the heuristic configured)
        (f"newsbot ask ({config.answer.reader}, {config.answer.reader_runtime})", ours, True),
        ("as configured", again, True),
        ("heuristic reader", theirs, False),
        (f"{config.answer.reader}, {other_runtime}", others, False),
        ("sentences in fp32", fp32, True),
        ("short texts apart", apart, True),
        ("reader on 1 thread", single, False),
        ("dense top-4", dense, True),
    ]
    for name, times, _ in (row for row in rows if trained or row[2]):
        p90 = statistics.quantiles(times, n=10)[-1]
        print(f"{name:<30} median {statistics.median(times):7.1f} ms   p90 {p90:7.1f} ms")


if __name__ == "__main__":
    main()
