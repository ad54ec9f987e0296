"""Where an answering process's memory goes: its RSS (anonymous / file-backed, MB) after each step of starting
up and answering, as the bot does it, on one store (embedded profile, or whatever NEWSBOT_* selects).

Steps: imports, the store opened, the answerer built (embedding model and reader loaded), the first dense
search (embedded Chroma loads the store's HNSW index here), the first keyword search, the first whole answer,
then every --every answers up to --questions (distinct RealTimeQA questions, the 2025q1 ones then the validation
weeks', 830 in all, as of today: a bot's questions do not repeat, and each brings the models' native runtimes
inputs of new sizes), and last after glibc's malloc_trim (how much of the growth is freed memory the allocator
kept). The baseline the steps compare against is the process before any of it (with numpy and this script's
helpers loaded).

    python benchmarks/ask_memory.py --store var/scale/sqlite-1000000 [--questions 100] [--every 25]
"""

from __future__ import annotations

import argparse
import ctypes
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from scale_bench import status_mb  # noqa: E402  (numpy with it: in the first row's figure)


def show(step: str) -> None:
    now = {name: int(mb) for name, mb in status_mb(("VmRSS", "RssAnon", "RssFile")).items()}
    print(f"  {step:<44} {now['VmRSS']:>7,} {now['RssAnon']:>7,} {now['RssFile']:>7,}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, required=True, help="the store folder (store.path)")
    parser.add_argument("--questions", type=int, default=100, help="answers to give in all")
    parser.add_argument("--every", type=int, default=25, help="print the RSS after every N answers")
    args = parser.parse_args()
    print(f"{'RSS, MB, after':<46} {'total':>7} {'anon':>7} {'file':>7}")
    show("the process started")
    from scale_bench import QUESTIONS, K, engine_settings, load_questions

    from newsbot.corpus.store import Store
    from newsbot.qa.chain import QA
    from newsbot.qa.recency import today
    from newsbot.records import Filters

    show("imports")
    config = engine_settings(args.store, "auto")
    questions = load_questions(args.questions, (QUESTIONS, QUESTIONS.parent / "realtimeqa-2025q2q4"))
    filters = Filters(as_of=today())
    with Store(config) as store:
        show(f"the store opened ({store.summary()['chunks']:,} chunks)")
        qa = QA(store, config)
        show("the answerer built (models loaded)")
        store.dense_search(questions[0], K, filters)
        show("the first dense search")
        store.keyword_search(questions[0], K, filters)
        show("the first keyword search")
        for number, question in enumerate(questions, 1):
            qa.ask(question)
            if number == 1 or number % args.every == 0 or number == len(questions):
                show(f"{number} answers")
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        show("malloc_trim")


if __name__ == "__main__":
    main()
