"""Split a total into skewed parts that add up exactly, e.g. messages over conversations."""

from __future__ import annotations

import random
from array import array

__all__ = ["skewed_split"]


def skewed_split(total: int, parts: int, rng: random.Random, *, minimum: int = 0, sigma: float = 1.2) -> array:
    """Return parts counts, each at least minimum, summing to total, drawn from a log-normal spread."""
    if parts <= 0:
        if total:
            raise ValueError(f"Cannot split {total} over no parts.")
        return array("q")
    spare = total - minimum * parts
    if spare < 0:
        raise ValueError(f"Cannot give {parts} parts at least {minimum} each out of {total}.")
    weights = [rng.lognormvariate(0.0, sigma) for _ in range(parts)]
    scale = spare / sum(weights)
    counts = array("q", (minimum + int(w * scale) for w in weights))
    # Flooring leaves fewer than `parts` units over; hand them out in proportion to the same weights.
    left = total - sum(counts)
    if left:
        for index in rng.choices(range(parts), weights=weights, k=left):
            counts[index] += 1
    return counts
