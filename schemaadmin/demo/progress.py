"""Progress on stderr, one bar per table on a terminal, one line per finished table elsewhere (a log, make run)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

__all__ = ["Progress"]

Row = TypeVar("Row")


class Progress:
    """A set of named progress bars, all silent when disabled; plain lines when stderr is not a terminal."""

    def __init__(self, totals: dict[str, int], *, enabled: bool = True, terminal: bool | None = None) -> None:
        # A bar redraws itself with carriage returns: in a log or a pipe that is one unreadable line per update.
        self.lines = enabled and not (sys.stderr.isatty() if terminal is None else terminal)
        self.starts: dict[str, float] = {}
        self.done = dict.fromkeys(totals, 0)
        self.totals = dict(totals)
        self.bars = {
            name: tqdm(
                total=total,
                desc=f"{name:<13}",
                unit=" rows",
                unit_scale=True,
                file=sys.stderr,
                disable=not enabled or self.lines,
                dynamic_ncols=True,
                position=position,
            )
            for position, (name, total) in enumerate(totals.items())
        }
        self.started: set[str] = set()
        self.reported: set[str] = set()
        self.enabled = enabled

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for bar in self.bars.values():
            bar.close()

    def note(self, text: str) -> None:
        """Print one line below the bars, e.g. what a long step without rows is doing."""
        if self.lines:
            print(text, file=sys.stderr, flush=True)
        elif self.enabled:
            tqdm.write(text, file=sys.stderr)

    def counted(self, name: str, rows: Iterable[Row], *, every: int = 1000) -> Iterator[Row]:
        """Yield rows, advancing the named bar every `every` rows rather than on each one."""
        bar, pending = self.bars[name], 0
        if name not in self.started:
            # All bars are drawn from the start; each one's clock starts with its first rows.
            self.started.add(name)
            self.starts[name] = time.monotonic()
            bar.reset(total=bar.total)
        for row in rows:
            yield row
            pending += 1
            if pending == every:
                bar.update(pending)
                self.done[name] += pending
                pending = 0
        bar.update(pending)
        self.done[name] += pending
        if self.lines and self.done[name] >= self.totals[name] and name not in self.reported:
            self.reported.add(name)
            seconds = time.monotonic() - self.starts[name]
            self.note(f"Loaded {self.done[name]:,} {name} in {seconds:.1f} s.")
        elif bar.n >= bar.total:
            bar.close()  # keep the elapsed time this table took, not the whole load's
