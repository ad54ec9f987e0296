"""Build the reader's training and validation examples from RealTimeQA (the slow part, which needs newsbot).

    python training/reader_data.py --data ../shared/data --out var/reader-data.json.gz

For every question whose articles hold the gold answer, each candidate sentence of those articles (the
answerer's own sentence split and filter) is labelled: positive when it holds the gold text as whole words and
shares a key term with the question, unusable when it holds the gold without any (it may state the answer by
accident, or not), negative otherwise. Negatives are ordered by how many key terms they share with the question:
the first ``HARD_POOL`` are the hard ones. With ``--evidence``, the quiz's own evidence (an HTML snippet that
states the answer) adds a positive when one of its sentences holds the gold and shares a key term with the
question: after the article positives, and for questions whose articles hold no usable positive, the only one.
Training reads RealTimeQA 2022-2024 (``realtimeqa-train``) only;
validation is ``realtimeqa-2025q2q4``. The output holds only text, so training (training/train_reader.py) runs
wherever torch does, a GPU machine without newsbot's dependencies included.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from newsbot.evaluation import contains_normalized, normalize
from newsbot.ingest.formats import html_fragment_text
from newsbot.sentences import sentence_spans
from newsbot.text import WORD, stemmed_terms, stemmed_words

HARD_POOL = 30  # negatives sharing most key terms with the question, kept in order
MIN_NEGATIVES = 8
REST = 40  # of the other negatives, a seeded sample: training draws only a few easy negatives per group


def load_week(qa_path: Path, evidence: bool = False) -> list[dict]:
    gcs = qa_path.with_name(qa_path.name.replace("_qa.jsonl", "_gcs.jsonl"))
    opener = gzip.open if not gcs.exists() else open
    gcs = gcs if gcs.exists() else gcs.with_name(gcs.name + ".gz")
    with opener(gcs, "rt") as handle:
        results = {row["question_id"]: row.get("search_result") or [] for row in map(json.loads, handle)}
    examples = []
    for row in map(json.loads, qa_path.read_text().splitlines()):
        gold = normalize(row["choices"][int(row["answer"][0])])
        stated = _evidence_sentences(row.get("evidence") or "") if evidence else []
        example = _example(row["question_sentence"], gold, results.get(row["question_id"], []), stated)
        if example:
            examples.append(example)
    return examples


def _evidence_sentences(snippet: str) -> list[str]:
    """The sentences of the quiz's evidence snippet, as plain text."""
    text = html_fragment_text(snippet)
    return [text[start:end] for start, end in sentence_spans(text)]


def _example(question: str, gold: str, articles: list[dict], evidence: Sequence[str] = ()) -> dict | None:
    """{"question", "positives", "hard", "rest"}: lists of [title, sentence], positives and hard negatives
    sharing most key terms first. ``evidence``: the quiz's sentences (a positive after the articles' own, under
    the title of the first article holding the gold, or else of the first article)."""
    seen_urls: set[str] = set()
    seen_sentences: set[str] = set()
    candidates: list[list[str]] = []
    for article in articles:
        if article.get("url") in seen_urls or not article.get("text"):
            continue
        seen_urls.add(article.get("url"))
        text, title = article["text"], article.get("title") or ""
        for start, end in sentence_spans(text):
            sentence = text[start:end]
            key = " ".join(sentence.lower().split())
            if key in seen_sentences or len(WORD.findall(sentence)) < 3 or sentence.rstrip("\"') ").endswith("?"):
                continue
            seen_sentences.add(key)
            candidates.append([title, sentence])
    if not gold or not candidates:
        return None
    terms = stemmed_terms(question)
    overlaps = [len(terms & words) for words in stemmed_words([s for _, s in candidates])]
    holding = [contains_normalized(normalize(s), [gold]) for _, s in candidates]
    positives, negatives = [], []
    for candidate, overlap, holds in zip(candidates, overlaps, holding, strict=True):
        if holds:
            if overlap:
                positives.append((overlap, candidate))
        else:
            negatives.append((overlap, candidate))
    positives.sort(key=lambda p: -p[0])
    # An empty title would mark the evidence apart from every negative: the first result's title at worst.
    title = next((c[0] for c, holds in zip(candidates, holding, strict=True) if holds), candidates[0][0])
    stated = [s for s in evidence if contains_normalized(normalize(s), [gold])]
    for sentence, words in zip(stated, stemmed_words(stated), strict=True):
        if terms & words:
            positives.append((len(terms & words), [title, sentence]))
            break
    if not positives or len(negatives) < MIN_NEGATIVES:
        return None
    negatives.sort(key=lambda n: -n[0])
    ordered = [c for _, c in negatives]
    return {
        "question": question,
        "positives": [c for _, c in positives],
        "hard": ordered[:HARD_POOL],
        "rest": ordered[HARD_POOL:],
    }


def load(folder: Path, until: str | None = None, evidence: bool = False) -> list[dict]:
    examples = []
    for qa_path in sorted(folder.glob("*_qa.jsonl")):
        if until and qa_path.name[:8] > until:
            continue
        examples.extend(load_week(qa_path, evidence))
    return examples


def sample_rest(examples: list[dict], size: int, seed: int) -> list[dict]:
    """The examples with at most ``size`` easy negatives each (a seeded sample, in the original order)."""
    rng = random.Random(seed)
    for example in examples:
        if len(example["rest"]) > size:
            keep = sorted(rng.sample(range(len(example["rest"])), size))
            example["rest"] = [example["rest"][i] for i in keep]
    return examples


def order_by_reader(examples: list[dict], name: str) -> list[dict]:
    """The examples with their negatives reordered by a trained reader's score, highest first: the hard ones
    become those the reader mistakes for answers (mined negatives) rather than those sharing key terms."""
    from tqdm import tqdm

    from newsbot.qa.reader import load_reader

    reader = load_reader(name)
    for example in tqdm(examples, desc=f"scoring negatives with {name}", unit="question"):
        negatives = example["hard"] + example["rest"]
        scores = reader.score(example["question"], [(title, sentence) for title, sentence in negatives])
        ordered = [negatives[i] for i in sorted(range(len(negatives)), key=lambda i: -scores[i])]
        example["hard"], example["rest"] = ordered[:HARD_POOL], ordered[HARD_POOL:]
    return examples


def overlap_baseline(examples: list[dict]) -> float:
    """Precision at 1 of ranking by shared key terms (ties to the positive's disadvantage)."""
    right = 0
    for example in examples:
        terms = stemmed_terms(example["question"])
        positive = max(len(terms & w) for w in stemmed_words([s for _, s in example["positives"]]))
        negative = max(len(terms & w) for w in stemmed_words([s for _, s in example["hard"]]))
        right += positive > negative
    return round(right / len(examples), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("var/reader-data.json.gz"))
    parser.add_argument("--rest", type=int, default=REST, help="easy negatives kept per question")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--order-by", default="", help="a trained reader that picks the hard negatives (mined)")
    parser.add_argument("--evidence", action="store_true", help="the quiz's evidence sentence as a positive too")
    args = parser.parse_args()
    validation = load(args.data / "realtimeqa-2025q2q4")
    for example in validation:
        example["rest"] = []  # validation ranks positives among the hard negatives only
    train = load(args.data / "realtimeqa-train", until="20241231", evidence=args.evidence)
    train = sample_rest(train, args.rest, args.seed)
    data = {
        "command": shlex.join(["python", "training/reader_data.py", *sys.argv[1:]]),
        "train": order_by_reader(train, args.order_by) if args.order_by else train,
        "validation": validation,
        "validation_p_at_1_overlap_baseline": overlap_baseline(validation),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(args.out, "wt") as handle:
        json.dump(data, handle)
    print(f"{args.out}: {len(data['train'])} training questions, {len(data['validation'])} validation")


if __name__ == "__main__":
    main()
