"""Retrieval quality of each keyword leg (the product's engines, store.keyword_engine registry (FTS5) and
tantivy, and benchmarks/keyword_options.py): hit@1/4/10 of the product's hybrid retrieval on RealTimeQA weeks,
with the keyword leg swapped, at question scope (each question over its own
search results, the benchmark's protocol) and week scope (over its whole week).

Uses the per-week stores ``newsbot eval`` builds (run it first with the same --work-dir; each gets its Tantivy
index built here when it has none), e.g.

    newsbot eval ../shared/data/realtimeqa-2025q2q4/*_qa.jsonl --work-dir var/evalweeks
    python benchmarks/keyword_hits.py ../shared/data/realtimeqa-2025q2q4/*_qa.jsonl --work-dir var/evalweeks
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
HIT_AT = (1, 4, 10)


def main() -> None:
    from keyword_options import Baseline, RareTerms

    from newsbot.corpus.store import REGISTRY_FILE, Store
    from newsbot.evaluation import (
        contains_normalized,
        load_realtimeqa,
        normalize,
        realtimeqa_corpus,
        scope_filter,
        week_config,
    )
    from newsbot.qa.chain import QA
    from newsbot.records import Filters
    from newsbot.settings import load_settings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("questions", nargs="+", type=Path)
    parser.add_argument("--work-dir", type=Path, default=Path("var/eval"))
    args = parser.parse_args()
    config = load_settings()
    hits: dict[str, dict[str, list[int]]] = {}
    answerable = {"question": 0, "week": 0}
    for path in args.questions:
        corpus = realtimeqa_corpus(path)
        scoped = week_config(config, args.work_dir, corpus) if corpus else None
        if scoped is None or not Path(scoped.store.path, REGISTRY_FILE).exists():
            print(f"skipped {path.name}: no week store under {args.work_dir}", file=sys.stderr)
            continue
        registry = Path(scoped.store.path) / REGISTRY_FILE
        fts5 = scoped.model_copy(update={"store": scoped.store.model_copy(update={"keyword_engine": "registry"})})
        tantivy = scoped.model_copy(update={"store": scoped.store.model_copy(update={"keyword_engine": "tantivy"})})
        with Store(fts5) as store, Store(tantivy, write=True) as indexed:  # the writer builds a missing index
            qa = QA(store, scoped)
            legs = {
                "baseline": Baseline(registry).search,
                "fts5": store.keyword_search,
                "df<=10%": RareTerms(registry, 0.10).search,
                "df<=2%": RareTerms(registry, 0.02).search,
                "tantivy": indexed.keyword_search,
            }
            texts = {a: store.article(a) for a in store.article_ids()}
            normalized = {a: normalize(article.text) for a, article in texts.items()}
            for scope in ("question", "week"):
                for question in load_realtimeqa(path, corpus if scope == "question" else None):
                    golds = [normalize(g) for g in question.gold if normalize(g)]
                    filters = replace(scope_filter(store, question.keys) or Filters(), as_of=question.as_of)
                    allowed = filters.article_ids if filters.article_ids is not None else normalized.keys()
                    visible = [a for a in allowed if not texts[a].published or texts[a].published <= question.as_of]
                    if not any(contains_normalized(normalized[a], golds) for a in visible):
                        continue
                    answerable[scope] += 1
                    for name, leg in legs.items():
                        store.keyword_search = leg  # type: ignore[method-assign]
                        passages = qa.retriever.passages(question.question, filters)
                        ranks = [i for i, p in enumerate(passages) if contains_normalized(normalize(p.text), golds)]
                        row = hits.setdefault(f"{scope} {name}", {str(k): [] for k in HIT_AT})
                        for k in HIT_AT:
                            row[str(k)].append(bool(ranks) and ranks[0] < k)
                    del store.keyword_search
    print(json.dumps({"answerable": answerable, "hit_at": summary(hits)}, indent=1))


def summary(hits: dict[str, dict[str, list[int]]]) -> dict[str, dict[str, float]]:
    return {name: {k: round(100 * sum(v) / len(v), 1) for k, v in row.items() if v} for name, row in hits.items()}


if __name__ == "__main__":
    main()
