"""The command line's progress bars (tqdm): one over the designs of a search, a co-search or a sweep, then
one over the final re-costing (which takes minutes after the last design)."""
from __future__ import annotations

import contextlib
import sys
from typing import Callable, Iterator

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from .outer_loop import SearchProgress


class ProgressBars:
    """A ``progress`` callback for the searches that draws their ``SearchProgress`` as tqdm bars on stderr."""

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.bars: dict[str, tqdm] = {}

    def _bar(self, phase: str, total: int) -> tqdm:
        bar = self.bars.get(phase)
        if bar is None:
            if phase == "final":
                for other in self.bars.values():
                    other.close()
            desc = "re-costing" if phase == "final" else "designs"
            bar = self.bars[phase] = tqdm(total=total, desc=desc, file=self.stream, mininterval=0.5,
                                          unit="costing" if phase == "final" else "design", dynamic_ncols=True)
        bar.total = total
        return bar

    def __call__(self, p: SearchProgress) -> None:
        bar = self._bar(p.phase, p.total)
        if p.phase == "final":
            bar.set_postfix_str(str(p.extra.get("what", "")), refresh=False)
        else:
            parts = [] if "point" in p.extra else [f"gen {p.generation}"]  # sweeps have no generations
            parts.append("best -" if p.best is None else f"best {p.best:.4g}")
            if p.best and p.baseline:
                parts.append(f"{p.best / p.baseline:.3f}x the baseline's EDP")
            if p.reused:
                parts.append("from store")
            bar.set_postfix_str(", ".join(parts), refresh=False)
        bar.update(p.evaluated - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


@contextlib.contextmanager
def progress_bars(quiet: bool = False) -> Iterator[Callable[[SearchProgress], None] | None]:
    """Progress bars while the block runs (None if ``quiet``), closed at its end."""
    if quiet:
        yield None
        return
    bars = ProgressBars()
    try:
        with logging_redirect_tqdm():  # log lines print above the bars, not through them
            yield bars
    finally:
        bars.close()
