"""The outer CMA-ES loop the hardware search and the co-search share: ask a generation, reuse designs already
in the run store, evaluate the rest on an executor, commit each as it arrives, tell, checkpoint.

Resumable by construction: the optimizer state is checkpointed after every generation, so a resumed run
re-asks the interrupted generation (the same candidates) and reuses every design committed before the stop.
"""
from __future__ import annotations

import logging
import math
import pickle
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import cma
import numpy as np


from .config_checks import check_elite_mutants
from .errors import ConfigError, RunFolderError
from .executor import Executor, map_chunked
from .run_store import RunStore

log = logging.getLogger(__name__)




@dataclass
class SearchProgress:
    """What a progress callback sees after each design."""

    evaluated: int
    total: int
    generation: int
    fitness: float | None
    best: float | None
    baseline: float | None
    designs_per_s: float
    reused: bool = False
    extra: dict = field(default_factory=dict)
    phase: str = "search"  # 'search', or 'final': the re-costing at the end (evaluated / total costings)


def stored_optimizer(store: RunStore, genes: int, what: str) -> tuple[Any, int] | None:
    """(optimizer, last finished generation) from the store's latest checkpoint, or None for a new run.

    Refuses (``RunFolderError``) a checkpoint over another number of genes, e.g. a run stored by an older
    version of the space; call it before adding anything to the store.
    """
    checkpoint = store.latest_checkpoint()
    if checkpoint is None:
        return None
    es = pickle.loads(checkpoint[1])
    if es.N != genes:
        raise RunFolderError(f"resume: {str(store.folder)!r} was searched over {es.N} genes; this naas's "
                             f"{what} space has {genes} (stored by an older version; rerun it)", "resume")
    return es, checkpoint[0]


def new_optimizer(x0: np.ndarray, sigma0: float, seed: int, popsize: int | None) -> cma.CMAEvolutionStrategy:
    """CMA-ES over genes in [0, 1] from ``x0``, with a private random stream.

    cma samples from numpy's global RandomState by default, which every inner mapping search reseeds; the
    outer stream must survive that, and pickling, unchanged.
    """
    opts = {"bounds": [0.0, 1.0], "seed": 1 + 7919 * seed, "verbose": -9,
            "randn": np.random.RandomState(1 + 7919 * seed).randn}
    if popsize:
        opts["popsize"] = popsize
    return cma.CMAEvolutionStrategy(x0, sigma0, opts)


def start_optimizer(store: RunStore, start: list[np.ndarray], config, decode, make_task, worker, commit,
                    executor: Executor, progress, baseline_fitness: float | None, stored) -> tuple[Any, int]:
    """Generation 0 (the ``start`` genomes not yet in the store) evaluated and committed, then the optimizer:
    the stored one of a resumed run, or a new CMA-ES (``config``'s sigma0, seed and popsize) from the best
    start (ties: the first; none feasible: the first). Returns (optimizer, last finished generation)."""
    popsize = config.popsize or default_popsize(len(start[0]))
    check_elite_mutants(config.elite_mutants, config.elite_sigma, popsize)  # before anything is evaluated
    total = len(start) + generations_for(config.budget, len(start), popsize) * popsize
    fitness = _evaluate_generation(store, 0, np.array(start), 0, total, decode, make_task, worker, commit,
                                   executor, progress, baseline_fitness, time.perf_counter(), [0])
    if stored is not None:
        return stored
    best = int(np.nanargmin(fitness)) if np.isfinite(fitness).any() else 0
    return new_optimizer(start[best], config.sigma0, config.seed, config.popsize), 0


def default_popsize(genes: int) -> int:
    """cma's default population for this many genes."""
    return 4 + int(3 * math.log(genes))


def elite_mutants(store: RunStore, count: int, sigma: float, seed: int) -> Callable[[int], list[np.ndarray]]:
    """Proposals for a generation: ``count`` Gaussian mutants (std ``sigma`` per gene, clipped to [0, 1]) of
    the best design of the generations before it, injected into the CMA-ES population (none before any
    design has a fitness).

    The outer landscape is a patchwork of plateaus (connectivity is a permutation, sizes are steps), and a
    popsize-8 CMA-ES with sigma0 0.3 spends most samples far from its best: mutants keep a share of every
    generation on local refinements of it (cma's ``inject``: they steer the mean like any good sample).
    Only designs of earlier generations count, so a resumed run proposes what the uninterrupted one did.
    """
    def propose(generation: int) -> list[np.ndarray]:
        best = store.best(before_generation=generation) if count else None
        if best is None:
            return []
        x = np.asarray(best["genome"], dtype=float)
        rng = np.random.default_rng([seed, generation, 0x6D7574])
        return [np.clip(x + rng.normal(0.0, sigma, x.size), 0.0, 1.0) for _ in range(count)]
    return propose


def generations_for(budget: int, start_designs: int, popsize: int) -> int:
    """CMA-ES generations a budget of designs allows after the start designs (rounded up)."""
    return math.ceil(max(0, budget - start_designs) / popsize)


def _evaluate_generation(store: RunStore, generation: int, X: np.ndarray, done_before: int, total: int,
                         decode, make_task, worker, commit, executor: Executor, progress, baseline_fitness,
                         t0: float, fresh: list[int]) -> np.ndarray:
    """Evaluate (or reuse from the store) one generation; commits each design as it arrives; its fitnesses."""
    designs = [decode(generation, i, x) for i, x in enumerate(X)]
    todo = [i for i, x in enumerate(X) if store.find(x) is None]
    # results arrive in task order wherever they ran; each is committed as soon as it is available
    outcomes = map_chunked(executor, worker, [make_task(generation, X[i], designs[i]) for i in todo])
    fitness = np.full(len(X), np.nan)
    for i, x in enumerate(X):
        reused = i not in todo
        if not reused:
            commit(generation, x, designs[i], next(outcomes))
            fresh[0] += 1
        found = store.find(x)
        fitness[i] = np.nan if found[1] is None else found[1]
        if progress:
            best = store.best()
            progress(SearchProgress(
                evaluated=done_before + i + 1, total=total, generation=generation,
                fitness=None if np.isnan(fitness[i]) else float(fitness[i]),
                best=best["fitness"] if best else None, baseline=baseline_fitness,
                designs_per_s=fresh[0] / max(1e-9, time.perf_counter() - t0), reused=reused))
    return fitness


def run_generations(store: RunStore, es, first_generation: int, budget: int,
                    decode: Callable[[int, int, np.ndarray], Any],
                    make_task: Callable[[int, np.ndarray, Any], Any], worker: Callable[[Any], Any],
                    commit: Callable[[int, np.ndarray, Any, Any], None], executor: Executor,
                    progress: Callable[[SearchProgress], None] | None, baseline_fitness: float | None,
                    start_designs: int = 1, propose: Callable[[int], list[np.ndarray]] | None = None) -> None:
    """Generations ``first_generation``.. until ``budget`` designs (the ``start_designs`` of generation 0
    included, whole generations).

    ``decode(generation, i, genome)`` gives the design, ``make_task(generation, genome, design)`` the picklable
    task; ``worker(tasks)`` evaluates a list of them (on ``executor``, in chunks: ``executor.map_chunked``), ``commit(generation, genome, design, outcome)`` stores it.
    Fitness is read back from the store (NULL = infeasible: told a value just worse than the generation's worst).
    ``propose(generation)`` (e.g. ``elite_mutants``): genomes injected into that generation as they are.
    """
    generations = generations_for(budget, start_designs, es.popsize)
    total = start_designs + generations * es.popsize
    t0, fresh = time.perf_counter(), [0]
    for generation in range(first_generation, generations + 1):
        proposals = propose(generation) if propose else []
        if len(proposals) >= es.popsize:
            raise ConfigError(f"elite_mutants: {len(proposals)} (allowed: below the population size, {es.popsize})",
                              "elite_mutants")
        for x in proposals:
            es.inject([es.boundary_handler.inverse(x)], force=True)  # asked back unchanged
        X = np.array(es.ask())
        fitness = _evaluate_generation(store, generation, X, start_designs + (generation - 1) * es.popsize,
                                       total, decode, make_task, worker, commit, executor, progress,
                                       baseline_fitness, t0, fresh)
        logs = np.log(fitness)
        worst = np.nanmax(logs) if np.isfinite(logs).any() else 0.0
        es.tell(list(X), np.where(np.isnan(logs), worst + 1.0, logs).tolist())
        store.save_checkpoint(generation, pickle.dumps(es))
        best = store.best()
        log.info("%s: generation %d of %d checkpointed; best fitness %s", store.folder, generation, generations,
                 "none yet" if best is None else f"{best['fitness']:.4e}")


def search_designs(store: RunStore, space, config, prefix: str, make_task: Callable[[int, np.ndarray, Any], Any],
                   worker: Callable[[Any], Any], commit: Callable[[int, np.ndarray, Any, Any], None],
                   executor: Executor, progress, baseline_fitness: float | None, stored, nothing_found: str,
                   extra_start: list[np.ndarray] = ()) -> dict:
    """The outer loop of a hardware search or a co-search, to ``config.budget`` designs: generation 0 (the
    space's ``config.warm_start`` genomes, then ``extra_start``), then CMA-ES generations with
    ``config.elite_mutants`` injected.
    Designs are named ``prefix-g<generation>-<i>`` (``prefix-warm-start``, ``prefix-start-<i>`` in generation 0).
    Returns the best design's record; raises ``NetworkEvaluationError(nothing_found)`` if none has a fitness.
    """
    from cost_model.evaluate import NetworkEvaluationError

    def decode(generation: int, i: int, x: np.ndarray):
        return space.decode(x, name=f"{prefix}-" + (f"g{generation}-{i}" if generation else
                                                    "warm-start" if i == 0 else f"start-{i}"))

    start = space.start_genomes(config.warm_start)
    start += [x for x in extra_start if not any(np.array_equal(x, y) for y in start)]
    loop = dict(decode=decode, make_task=make_task, worker=worker, commit=commit, executor=executor,
                progress=progress, baseline_fitness=baseline_fitness)
    es, done = start_optimizer(store, start, config, stored=stored, **loop)
    propose = elite_mutants(store, config.elite_mutants, config.elite_sigma, config.seed)
    run_generations(store, es, done + 1, config.budget, start_designs=len(start), propose=propose, **loop)
    best = store.best()
    if best is None:
        raise NetworkEvaluationError([nothing_found], None)
    return best
