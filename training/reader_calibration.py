"""Write the calibration pairs the OpenVINO int8 reader is quantised with (qa/reader_openvino.py).

    python training/reader_calibration.py --out qa/weights/reader-calibration.json

Static int8 fixes each layer's activation range once, from real inputs: every sample question of
examples/questions.jsonl paired with every sentence of the bundled sample articles (our own writing, so the
file may ship with the package). The product reads the file; it never needs examples/ or ../shared.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from newsbot.ingest.formats import Article
from newsbot.ingest.readers import read_inputs
from newsbot.sentences import sentence_spans
from newsbot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def calibration(articles_dir: Path, questions: Path) -> dict[str, list]:
    """The questions, and every sentence of the articles as [title, sentence], in a fixed order; the reader pairs
    each question with each sentence."""
    articles = [a for a in read_inputs([str(articles_dir)], Settings().ingest) if isinstance(a, Article)]
    articles.sort(key=lambda a: (a.title or "", a.text))
    sentences = [[a.title or "", a.text[start:end]] for a in articles for start, end in sentence_spans(a.text)]
    asked = [json.loads(line)["question"] for line in questions.read_text().splitlines() if line.strip()]
    return {"questions": asked, "sentences": sentences}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=Path, default=ROOT / "examples" / "articles")
    parser.add_argument("--questions", type=Path, default=ROOT / "examples" / "questions.jsonl")
    parser.add_argument("--out", type=Path, default=ROOT / "qa" / "weights" / "reader-calibration.json")
    args = parser.parse_args()
    found = calibration(args.articles, args.questions)
    source = {"source": "examples/articles, examples/questions.jsonl (training/reader_calibration.py)"}
    args.out.write_text(json.dumps(source | found, ensure_ascii=False, indent=1) + "\n")
    print(f"{len(found['questions'])} questions x {len(found['sentences'])} sentences -> {args.out}")


if __name__ == "__main__":
    main()
