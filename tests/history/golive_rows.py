"""Synthetic history where the truth is known: each label has words of its own."""

from __future__ import annotations

import random

LABELS = ("billing", "shipping", "returns", "account")
FILLER = ("please", "help", "today", "order", "thanks", "hello")


def separable(n: int, *, seed: int = 0, noise: float = 0.0) -> list[tuple[str, str]]:
    """`n` (text, label) rows whose words give the label away; a share `noise` of the labels is
    replaced by another label at random (a human's slip the text cannot explain)."""
    rng = random.Random(seed)
    vocab = {label: [f"{label}{i}" for i in range(8)] for label in LABELS}
    rows = []
    for i in range(n):
        label = LABELS[i % len(LABELS)]
        words = rng.sample(vocab[label], 4) + rng.sample(FILLER, 2)
        rng.shuffle(words)
        if rng.random() < noise:
            label = rng.choice([other for other in LABELS if other != label])
        rows.append((" ".join(words), label))
    return rows
