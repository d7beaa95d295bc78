"""The final re-costing every search kind shares: its best design (and the reference) costed again at a
larger mapping budget, stored once per best design as the run's ``final`` meta.

The search ranks designs by costs from its small inner budget, and the best of many such costs is
optimistic; reports and experiments compare both sides at these fresh, larger-budget costs.
"""
from __future__ import annotations

import logging
from typing import Callable

from cost_model.evaluate import NetworkEvaluationError
from mapping.network_search import SearchSettings, settings_label

from .outer_loop import SearchProgress
from .run_store import RunStore

log = logging.getLogger(__name__)


def stored_final(store: RunStore) -> dict | None:
    """The run's final re-costing if it was made for its current best design and every part of it costed."""
    final, best = store.get_meta("final"), store.best()
    if final is None or best is None or final["best_id"] != best["id"]:
        return None
    if any(isinstance(part, dict) and part.get("error") for part in final.values()):
        return None
    return final


def record_final(store: RunStore, budget: int, searches: tuple[SearchSettings, ...], nothing_found: str,
                 compute: Callable[[dict, Callable[[str], None]], dict],
                 steps: int, progress: Callable[[SearchProgress], None] | None = None) -> dict:
    """The run's ``final`` at ``budget`` for its current best design, computed (``compute(best, step)``, which
    calls ``step(what)`` after each of its ``steps`` network costings) unless already stored for it.

    Raises ``NetworkEvaluationError(nothing_found)`` if no design has a fitness.
    """
    best = store.best()
    if best is None:
        raise NetworkEvaluationError([nothing_found], None)
    label = settings_label(searches)
    final = store.get_meta("final")
    if (final is not None and final["best_id"] == best["id"] and final["budget"] == budget
            and final.get("portfolio") == label):
        return final
    done = [0]

    def step(what: str) -> None:
        done[0] += 1
        log.info("re-costed %s (%d/%d) at %d mapping evaluations per layer shape", what, done[0], steps, budget)
        if progress:
            progress(SearchProgress(evaluated=done[0], total=steps, generation=-1, fitness=None, best=None,
                                    baseline=None, designs_per_s=0.0, phase="final", extra={"what": what}))
    final = {"budget": budget, "best_id": best["id"], "portfolio": label, **compute(best, step)}
    store.set_meta("final", final)
    return final
