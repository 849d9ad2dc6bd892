"""Progress bars on stderr, one per table, cheap enough to wrap millions of rows."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

__all__ = ["Progress"]

Row = TypeVar("Row")


class Progress:
    """A set of named progress bars, all silent when disabled."""

    def __init__(self, totals: dict[str, int], *, enabled: bool = True) -> None:
        self.bars = {
            name: tqdm(
                total=total,
                desc=f"{name:<13}",
                unit=" rows",
                unit_scale=True,
                file=sys.stderr,
                disable=not enabled,
                dynamic_ncols=True,
                position=position,
            )
            for position, (name, total) in enumerate(totals.items())
        }
        self.started: set[str] = set()
        self.enabled = enabled

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for bar in self.bars.values():
            bar.close()

    def note(self, text: str) -> None:
        """Print one line below the bars, e.g. what a long step without rows is doing."""
        if self.enabled:
            tqdm.write(text, file=sys.stderr)

    def counted(self, name: str, rows: Iterable[Row], *, every: int = 1000) -> Iterator[Row]:
        """Yield rows, advancing the named bar every `every` rows rather than on each one."""
        bar, pending = self.bars[name], 0
        if name not in self.started:
            # All bars are drawn from the start; each one's clock starts with its first rows.
            self.started.add(name)
            bar.reset(total=bar.total)
        for row in rows:
            yield row
            pending += 1
            if pending == every:
                bar.update(pending)
                pending = 0
        bar.update(pending)
        if bar.n >= bar.total:
            bar.close()  # keep the elapsed time this table took, not the whole load's
