"""``naas sweep``: evaluate every combination of a sweep file (grid or random) on the chosen networks.

Each combination is one design in the run store (its genome: the value index of each parameter), costed as
``naas search`` costs a design: per-layer mapping search (``mapping: search``, cached per layer shape) or the
dataflow's default mapping, fitness = geometric mean over the networks of each network's EDP. The base
accelerator itself is design -1 (generation -1), the reference of the report. Designs are evaluated by any
executor (in-process, local processes, a Dask cluster) and committed in the sweep's order, so the rows do not
depend on where they ran; ``--resume`` evaluates only the combinations not yet committed.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from cost_model.accelerator import accelerator_from_dict, save_accelerator

from .executor import Executor, InlineExecutor, map_chunked
from .hardware_search import (HardwareSearchConfig, SearchProgress, evaluate_hardware_design,
                              evaluate_hardware_designs)
from .run_folder import open_run_folder
from .run_store import RunStore
from .sweep_spec import SweepSpec, area_proxy, validated_designs

KIND = "sweep"


def _costing(spec: SweepSpec) -> dict:
    """The design-costing settings a sweep shares with ``naas search`` (networks, inner budget, seed)."""
    return HardwareSearchConfig(baseline=spec.base["name"], networks=spec.networks, mode="full",
                                inner_budget=spec.inner_budget, seed=spec.seed, inner_start=spec.inner_start,
                                inner_sigma0=spec.inner_sigma0).to_dict()


def run_sweep(spec: SweepSpec | None, folder: str | Path, resume: bool = False,
              progress: Callable[[SearchProgress], None] | None = None,
              executor: Executor | None = None) -> dict:
    """Run (or resume) a sweep; returns {designs, evaluated, best, baseline_fitness}. Writes ``best.yaml``."""
    checked: list = []  # every combination is checked before a new run folder is created
    store, spec = open_run_folder(folder, KIND, spec, resume, SweepSpec.from_dict,
                                  check_new=lambda s: checked.append(list(validated_designs(s))))
    with store:
        designs = checked[0] if checked else list(validated_designs(spec))
        return _sweep(spec, designs, store, progress, executor or InlineExecutor())


def _sweep(spec: SweepSpec, designs: list, store: RunStore, progress, executor: Executor) -> dict:
    costing = _costing(spec)
    searched = spec.mapping == "search"
    base_genome = np.full(len(spec.parameters), -1.0)
    if store.find(base_genome) is None:
        fit, res, err, seconds = evaluate_hardware_design((costing, spec.base, searched))
        store.add_design(-1, base_genome, spec.base, fit, res, err, seconds)
    base_fit = store.find(base_genome)[1]

    genomes = [np.asarray(point, dtype=float) for point, *_ in designs]
    todo = [i for i, g in enumerate(genomes) if store.find(g) is None and designs[i][2] is not None]
    tasks = [(costing, designs[i][1], searched) for i in todo]
    outcomes = map_chunked(executor, evaluate_hardware_designs, tasks)
    pending = set(todo)
    t0, fresh = time.perf_counter(), 0
    best = store.best()
    for i, (point, doc, acc, invalid) in enumerate(designs):
        reused = store.find(genomes[i]) is not None
        if not reused:
            if acc is None:
                store.add_design(0, genomes[i], doc, None, {}, invalid, 0.0)
            else:
                assert i in pending
                fit, res, err, seconds = next(outcomes)
                store.add_design(0, genomes[i], doc, fit, res, err, seconds)
                fresh += 1
        fitness = store.find(genomes[i])[1]
        if fitness is not None and (best is None or fitness < best["fitness"]):
            best = store.best()
        if progress:
            progress(SearchProgress(
                evaluated=i + 1, total=len(designs), generation=0, fitness=fitness,
                best=best["fitness"] if best else None, baseline=base_fit,
                designs_per_s=fresh / max(1e-9, time.perf_counter() - t0), reused=reused,
                extra={"area": None if acc is None else area_proxy(acc, spec.bytes_per_pe),
                       "point": spec.describe_point(point)}))
    best = store.best()
    if best is not None:
        save_accelerator(accelerator_from_dict(best["accelerator"], origin="run store"),
                         store.folder / "best.yaml")
    return {"designs": len(designs), "evaluated": fresh, "best": best, "baseline_fitness": base_fit}
