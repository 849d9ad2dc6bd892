"""Make unit vectors that cluster by topic, fast enough in pure Python, already in pgvector's text form.

A 3072-dimensional vector per chunk costs about a millisecond to draw and format in pure Python, which is
what would dominate a large load. So vectors are assembled from pre-rendered pieces instead: the dimensions
are cut into blocks, and for every topic and block a few variants (the block of the topic's centroid plus
gaussian noise, scaled to an equal share of the unit norm) are drawn and formatted once. A chunk's vector
picks one variant per block, keeping its document's variant for about half the blocks, so vectors are unit
length, near their topic's centroid, nearer still to their own document's chunks, and cost one string join.

With noise as large as the centroid, two chunks of one topic have a cosine similarity of about 0.5, of one
document about 0.65, and of different topics about 0.1 (the centroids share a common direction, as real
embedding spaces do).
"""

from __future__ import annotations

import math
import random

__all__ = ["EmbeddingSpace"]


def _unit(values: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


class EmbeddingSpace:
    """Topic-clustered unit vectors of a fixed dimension, returned as '[x,y,...]' text."""

    def __init__(
        self,
        rng: random.Random,
        *,
        dimensions: int = 3072,
        blocks: int = 48,
        variants: int = 16,
        noise: float = 1.0,
        shared: float = 0.5,
        digits: int = 4,
    ) -> None:
        if dimensions % blocks:
            raise ValueError(f"{dimensions} dimensions do not split into {blocks} equal blocks.")
        self.dimensions = dimensions
        self.blocks = blocks
        self.variants = variants
        self.seed = rng.getrandbits(64)
        self.noise = noise
        self.shared = shared
        self.format = f"{{:.{digits}g}}".format
        self.common = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
        self._pieces: dict[int, list[list[str]]] = {}

    def pieces(self, topic: int) -> list[list[str]]:
        """Return the pre-rendered variants of every block of topic's vectors, drawing them on first use."""
        if topic not in self._pieces:
            # Each topic has its own stream, so its vectors do not depend on which topics were drawn before.
            rng = random.Random(self.seed ^ (topic + 1) * 0x9E3779B97F4A7C15)
            own = _unit([rng.gauss(0.0, 1.0) for _ in range(self.dimensions)])
            common = _unit(self.common)
            centroid = _unit([o + self.shared * c for o, c in zip(own, common, strict=True)])
            size = self.dimensions // self.blocks
            sigma = self.noise / math.sqrt(self.dimensions)
            share = 1.0 / math.sqrt(self.blocks)
            blocks = []
            for start in range(0, self.dimensions, size):
                base = centroid[start : start + size]
                variants = []
                for _ in range(self.variants):
                    block = _unit([b + rng.gauss(0.0, sigma) for b in base])
                    variants.append(",".join([self.format(v * share) for v in block]))
                blocks.append(variants)
            self._pieces[topic] = blocks
        return self._pieces[topic]

    def signature(self, rng: random.Random) -> list[int]:
        """Return a document's own choice of variant for every block."""
        return [rng.randrange(self.variants) for _ in range(self.blocks)]

    def vector_text(self, topic: int, signature: list[int], rng: random.Random, *, keep: float = 0.5) -> str:
        """Return one chunk's vector near its topic and document, as pgvector text '[x,y,...]'."""
        pieces = self.pieces(topic)
        variants = self.variants
        chosen = [
            block[own] if rng.random() < keep else block[rng.randrange(variants)]
            for block, own in zip(pieces, signature, strict=True)
        ]
        return "[" + ",".join(chosen) + "]"
