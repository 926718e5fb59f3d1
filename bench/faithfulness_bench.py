"""How well the deterministic faithfulness check (`deshi.drafting.faithfulness`) tells a claim
its cited passage supports from one it does not, on real question–passage sets.

For every question of XQuAD (English, 1,190) and JSQuAD (Japanese, 4,442; both CC BY-SA 4.0,
../shared/datasets), the sentence of its paragraph that holds the gold answer becomes two claims,
each citing that paragraph:

- **faithful**: the sentence as written;
- **unfaithful**: the same sentence with the gold answer replaced by the gold answer of another
  question of the same set (a number by a number where there is one) — the typical "lies
  cleverly" draft: fluent, on topic, one fact wrong.

The check should flag the unfaithful claims and pass the faithful ones; reported: the share of
each flagged, and the precision and recall of "flagged" as a detector of unfaithful claims.
This measures the checker, not a drafter: the claims are built, not generated.

    python bench/faithfulness_bench.py [--limit N] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from deshi.drafting.core import Evidence
from deshi.drafting.faithfulness import check
from deshi.engine.japanese import sentences

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import machine

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
SETS = {
    "xquad_en": DATASETS / "xquad_en" / "xquad.en.json",
    "jsquad": DATASETS / "jsquad" / "valid-v1.3.json",
}
NUMBER = re.compile(r"\d")


def _cases(path: Path) -> Iterator[tuple[str, str, str]]:
    """(paragraph, the sentence holding the answer, the answer) for each answerable question."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    for article in data:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"].split(" [SEP] ", 1)[-1]
            for qa in paragraph["qas"]:
                if qa.get("is_impossible") or not qa["answers"]:
                    continue
                answer = qa["answers"][0]["text"].strip()
                holding = [s for s in sentences(context) if answer and answer in s]
                if holding:
                    yield context, holding[0], answer


def _swap(answer: str, pool: list[str], rng: random.Random) -> str:
    """Another gold answer, numeric for a numeric one where the set has one."""
    numeric = bool(NUMBER.search(answer))
    candidates = [a for a in pool if a != answer and a not in answer and answer not in a]
    same_kind = [a for a in candidates if bool(NUMBER.search(a)) == numeric]
    return rng.choice(same_kind or candidates)


def measure(path: Path, limit: int | None, seed: int) -> dict[str, float | int]:
    cases = list(_cases(path))[:limit]
    rng = random.Random(seed)
    pool = [answer for _, _, answer in cases]
    flagged_faithful = flagged_unfaithful = 0
    for context, sentence, answer in cases:
        evidence = [Evidence(1, 1, "paragraph", context)]
        faithful = check(f"{sentence} [1]", evidence)
        wrong = sentence.replace(answer, _swap(answer, pool, rng), 1)
        unfaithful = check(f"{wrong} [1]", evidence)
        flagged_faithful += faithful.has_unsupported_claim
        flagged_unfaithful += unfaithful.has_unsupported_claim
    n = len(cases)
    flagged = flagged_faithful + flagged_unfaithful
    return {
        "claims_each": n,
        "faithful_flagged": flagged_faithful / n,
        "unfaithful_flagged": flagged_unfaithful / n,
        "precision": flagged_unfaithful / flagged if flagged else 0.0,
        "recall": flagged_unfaithful / n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="Questions per set (default all).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result: dict[str, object] = {"machine": machine(), "seed": args.seed}
    for name, path in SETS.items():
        result[name] = measure(path, args.limit, args.seed)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
