"""CMA-ES bookkeeping of many independent instances in lockstep: pycma, cmaes, evosax (JAX CPU), numpy (issue 25).

Usage: OPENBLAS_NUM_THREADS=1 python benchmarks/bench_cma_libraries.py [--generations 150] [--repeats 3]

The workload is the inner mapping search of ResNet-50 on Eyeriss: one CMA-ES instance per distinct layer shape
(24), each with the genome dimension of its importance encoding (``MappingEncoder.size``) and its default
population 4 + floor(3 ln D), all advanced in lockstep for ``--generations`` generations. The objective is a
shifted sphere, f(x) = sum((box(x) - c)^2) with c ~ U[0.2, 0.8]^D per instance, evaluated on naas's [0, 1]
phenotype (``mapping.unit_box.UnitBox``, the transformation today's search applies to each population), so its
cost is negligible; it is timed apart from the bookkeeping, and only ask + tell (+ stop, where the library has
one) is reported. Every instance runs all generations (stop() is called and timed where it exists, but not
acted on) so each variant times the same number of instance-generations. Variants are alternated within each
repeat (the machine is shared) and medians are printed; the workload total is the per-instance-generation time
times sum_i 2000 / popsize_i generations (no IPOP restarts) plus 24 constructors. A library that is not
importable is skipped with a printed line. After the timing, determinism checks: same seed twice, and one
instance alone versus in the batch of all (final means compared bit for bit).

Variants: pycma ``CMAEvolutionStrategy`` as ``mapping.search._cma`` sets it up (and with options that cut its
bookkeeping); ``cmaes.CMA`` (its own [0, 1] bounds = rejection resampling, or unbounded + UnitBox); evosax's
CMA_ES under ``jax.vmap``, grouped by D or zero-padded to the largest D, with the objective on the host between
two jitted calls (as naas's Numba kernel requires), and fused in ``lax.scan`` with the objective in JAX (a
lower bound naas cannot use); and a plain-numpy batched textbook CMA-ES (below, a measurement reference only).
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import argparse  # noqa: E402
import importlib  # noqa: E402
import importlib.metadata  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field, replace  # noqa: E402

import cma  # noqa: E402
import numpy as np  # noqa: E402

from cost_model.accelerator import load_accelerator  # noqa: E402
from mapping.encoding import MappingEncoder  # noqa: E402
from mapping.unit_box import UnitBox  # noqa: E402
from nn_space.zoo import get_network  # noqa: E402

SIGMA0 = 0.25  # mapping.search.search_layer's default
PYCMA_BASE = {"verbose": -9, "tolfun": 1e-4, "tolx": 1e-4}  # mapping.search._cma's options (plus seed, maxstd)


IMPORT_S: dict[str, float] = {}


def _optional(name: str):
    t = time.perf_counter()
    try:
        mod = importlib.import_module(name)
    except ImportError as exc:
        print(f"# {name} is not importable ({exc}); its variants are skipped")
        return None
    IMPORT_S[name] = time.perf_counter() - t
    return mod


cmaes = _optional("cmaes")
jax = _optional("jax")
evosax_algorithms = _optional("evosax.algorithms") if jax is not None else None
if jax is not None:
    jax.config.update("jax_enable_x64", True)  # float64 like the other variants (JAX defaults to float32)
    import jax.numpy as jnp


def version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


# --------------------------------------------------------------------------------------------------------------
# The workload


@dataclass
class Instance:
    seed: int
    dim: int
    popsize: int
    x0: np.ndarray  # start phenotype in [0, 1]^D
    center: np.ndarray  # sphere optimum


def workload(network: str, accelerator: str) -> list[Instance]:
    """One instance per distinct layer shape, in network order."""
    acc = load_accelerator(accelerator)
    dims: dict[tuple, int] = {}
    for layer in get_network(network).layers:
        dims.setdefault(layer.shape_key, MappingEncoder(layer, acc).size)
    out = []
    for i, d in enumerate(dims.values()):
        out.append(Instance(i, d, 4 + int(3 * math.log(d)), np.random.default_rng(2000 + i).random(d),
                            np.random.default_rng(1000 + i).uniform(0.2, 0.8, d)))
    return out


_BOXES: dict[int, UnitBox] = {}


def box(d: int) -> UnitBox:
    if d not in _BOXES:
        _BOXES[d] = UnitBox(d)
    return _BOXES[d]


def sphere_rows(genotypes: np.ndarray, center: np.ndarray) -> np.ndarray:
    """f of each genotype row of one instance (phenotype = UnitBox of the row)."""
    x = box(genotypes.shape[1])(genotypes)
    return ((x - center) ** 2).sum(axis=1)


def sphere_stack(genotypes: np.ndarray, centers: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """f[S, lam] of stacked genotypes [S, lam, D] (mask [S, D] drops padded genes)."""
    s, lam, d = genotypes.shape
    x = box(d)(genotypes.reshape(s * lam, d)).reshape(s, lam, d)
    sq = (x - centers[:, None, :]) ** 2
    if mask is not None:
        sq *= mask[:, None, :]
    return sq.sum(axis=2)


@dataclass
class Run:
    """One variant, one repeat."""

    bookkeeping_s: float = 0.0  # ask + tell (+ stop)
    objective_s: float = 0.0  # UnitBox + sphere
    instance_generations: int = 0
    construct_s: float = 0.0  # all constructors
    constructors: int = 0
    compile_s: float = 0.0
    best: list[float] = field(default_factory=list)  # best f per instance
    means: list[np.ndarray] = field(default_factory=list)  # final mean (genotype) per instance

    @property
    def us_per_instance_generation(self) -> float:
        return 1e6 * self.bookkeeping_s / self.instance_generations

    @property
    def construct_ms(self) -> float:
        return 1e3 * self.construct_s / max(self.constructors, 1)


# --------------------------------------------------------------------------------------------------------------
# 1. pycma, one CMAEvolutionStrategy per instance (today's path: unbounded + UnitBox, mapping.search._cma)


def run_pycma(insts: list[Instance], gens: int, extra: dict | None = None, own_randn: bool = False) -> Run:
    run = Run()
    ess = []
    for inst in insts:
        b = box(inst.dim)
        opts = {"seed": 1 + inst.seed * 1009, **PYCMA_BASE, **b.es_options(), **(extra or {})}
        if own_randn:  # per-instance stream instead of the global np.random one the seed option reseeds
            rng = np.random.default_rng(1 + inst.seed * 1009)
            opts["randn"] = lambda lam, n, rng=rng: rng.standard_normal((lam, n))
        t = time.perf_counter()
        es = cma.CMAEvolutionStrategy(b.start(inst.x0), SIGMA0, opts)
        run.construct_s += time.perf_counter() - t
        ess.append(es)
    run.constructors = len(ess)
    best = [math.inf] * len(insts)
    pc = time.perf_counter
    for _ in range(gens):
        for i, (inst, es) in enumerate(zip(insts, ess)):
            t0 = pc()
            told = np.array(es.ask())
            t1 = pc()
            f = sphere_rows(told, inst.center)
            t2 = pc()
            es.tell(list(told), f.tolist())
            es.stop()
            t3 = pc()
            run.bookkeeping_s += (t1 - t0) + (t3 - t2)
            run.objective_s += t2 - t1
            best[i] = min(best[i], float(f.min()))
    run.instance_generations = gens * len(insts)
    run.best = best
    run.means = [np.array(es.mean, dtype=float) for es in ess]
    return run


# --------------------------------------------------------------------------------------------------------------
# 2. cmaes (CyberAgent), one CMA per instance, one sample per ask()


def run_cmaes(insts: list[Instance], gens: int, own_bounds: bool) -> Run:
    run = Run()
    opts = []
    for inst in insts:
        t = time.perf_counter()
        if own_bounds:  # rejection resampling into [0, 1]^D (up to 100 draws, then clipping)
            o = cmaes.CMA(mean=inst.x0.copy(), sigma=SIGMA0, bounds=np.tile([0.0, 1.0], (inst.dim, 1)),
                          seed=1 + inst.seed * 1009, population_size=inst.popsize)
        else:
            o = cmaes.CMA(mean=box(inst.dim).start(inst.x0), sigma=SIGMA0, seed=1 + inst.seed * 1009,
                          population_size=inst.popsize)
        run.construct_s += time.perf_counter() - t
        opts.append(o)
    run.constructors = len(opts)
    best = [math.inf] * len(insts)
    pc = time.perf_counter
    for _ in range(gens):
        for i, (inst, o) in enumerate(zip(insts, opts)):
            t0 = pc()
            xs = [o.ask() for _ in range(inst.popsize)]
            t1 = pc()
            X = np.array(xs)
            if own_bounds:
                f = ((X - inst.center) ** 2).sum(axis=1)
            else:
                f = sphere_rows(X, inst.center)
            t2 = pc()
            o.tell(list(zip(xs, f.tolist())))
            o.should_stop()
            t3 = pc()
            run.bookkeeping_s += (t1 - t0) + (t3 - t2)
            run.objective_s += t2 - t1
            best[i] = min(best[i], float(f.min()))
    run.instance_generations = gens * len(insts)
    run.best = best
    run.means = [o.mean.copy() for o in opts]
    return run


# --------------------------------------------------------------------------------------------------------------
# 3. evosax CMA_ES under jax.vmap (one vmapped ask and one vmapped tell per group and generation)


class EvosaxGroup:
    """S instances of one (D, popsize) in one vmapped CMA_ES; jitted functions are built (and compiled) once."""

    _cache: dict[tuple, "EvosaxGroup"] = {}

    @classmethod
    def get(cls, dim: int, lam: int, size: int) -> "EvosaxGroup":
        key = (dim, lam, size)
        if key not in cls._cache:
            cls._cache[key] = cls(dim, lam, size)
        return cls._cache[key]

    def __init__(self, dim: int, lam: int, size: int):
        self.dim, self.lam, self.size = dim, lam, size
        es = evosax_algorithms.CMA_ES(population_size=lam, solution=jnp.zeros(dim))
        params = es.default_params.replace(std_init=jnp.asarray(SIGMA0))
        self.es, self.params = es, params

        def ask(key, gen, state):  # the key of generation g depends only on the instance's seed and g
            return es.ask(jax.random.fold_in(key, gen), state, params)

        def tell(key, pop, fit, state):
            return es.tell(key, pop, fit, state, params)[0]

        self.init = jax.jit(jax.vmap(lambda key, mean: es.init(key, mean, params)))
        self.ask = jax.jit(jax.vmap(ask, in_axes=(0, None, 0)))
        self.tell = jax.jit(jax.vmap(tell))
        self.compile_s = None  # measured on first use
        self.fused: dict[int, object] = {}
        self.fused_compile_s: dict[int, float] = {}

    def keys(self, seeds) -> "jax.Array":
        return jnp.stack([jax.random.key_data(jax.random.key(1 + s * 1009)) for s in seeds])

    def warm(self, keys, means) -> None:
        """Compile: two generations, since the state tell returns has other (non-weak) dtypes than init's and
        would trigger a second trace on the second generation."""
        if self.compile_s is None:
            t = time.perf_counter()
            state = jax.block_until_ready(self.init(keys, means))
            for gen in range(2):
                pop, state = self.ask(keys, gen, state)
                state = jax.block_until_ready(self.tell(keys, pop, jnp.zeros((self.size, self.lam)), state))
            self.compile_s = time.perf_counter() - t

    def fused_run(self, gens: int, keys, state, centers):
        """G generations in one lax.scan, objective (sphere on the genotype) in JAX: a lower bound."""
        if gens not in self.fused:
            def one(key, state, center):
                def step(carry, gen):
                    st, best = carry
                    pop, st = self.es.ask(jax.random.fold_in(key, gen), st, self.params)
                    fit = jnp.sum((pop - center) ** 2, axis=1)
                    st, _ = self.es.tell(key, pop, fit, st, self.params)
                    return (st, jnp.minimum(best, fit.min())), None
                (state, best), _ = jax.lax.scan(step, (state, jnp.inf), jnp.arange(gens))
                return state, best
            fn = jax.jit(jax.vmap(one))
            t = time.perf_counter()
            jax.block_until_ready(fn(keys, state, centers))
            self.fused_compile_s[gens] = time.perf_counter() - t
            self.fused[gens] = fn
        return self.fused[gens](keys, state, centers)


def _evosax_groups(insts: list[Instance], pad: bool) -> list[tuple[int, int, list[int]]]:
    """(D, popsize, instance indices): grouped by D, or everything padded to the largest D."""
    if pad:
        d = max(i.dim for i in insts)
        return [(d, 4 + int(3 * math.log(d)), list(range(len(insts))))]
    groups: dict[tuple[int, int], list[int]] = {}
    for k, inst in enumerate(insts):
        groups.setdefault((inst.dim, inst.popsize), []).append(k)
    return [(d, lam, idx) for (d, lam), idx in groups.items()]


def _padded(insts, idx, d):
    means = np.zeros((len(idx), d))
    centers = np.zeros((len(idx), d))
    mask = np.zeros((len(idx), d))
    for r, k in enumerate(idx):
        n = insts[k].dim
        means[r, :n] = box(n).start(insts[k].x0)
        centers[r, :n] = insts[k].center
        mask[r, :n] = 1.0
    return means, centers, mask


def run_evosax(insts: list[Instance], gens: int, pad: bool = False, fused: bool = False) -> Run:
    run = Run()
    best = [math.inf] * len(insts)
    means_out: list[np.ndarray | None] = [None] * len(insts)
    pc = time.perf_counter
    groups = []
    for d, lam, idx in _evosax_groups(insts, pad):
        grp = EvosaxGroup.get(d, lam, len(idx))
        keys = grp.keys([insts[k].seed for k in idx])
        means, centers, mask = _padded(insts, idx, d)
        means_j = jnp.asarray(means)
        grp.warm(keys, means_j)
        if not fused:
            run.compile_s += grp.compile_s
        t = pc()
        state = jax.block_until_ready(grp.init(keys, means_j))
        run.construct_s += pc() - t
        groups.append([grp, idx, keys, state, centers, mask])
    run.constructors = len(insts)
    if fused:
        for g in groups:
            grp, idx, keys, state, centers, mask = g
            grp.fused_run(gens, keys, state, jnp.asarray(centers))  # compiles on first use
            run.compile_s += grp.fused_compile_s[gens]
            t = pc()
            state, b = jax.block_until_ready(grp.fused_run(gens, keys, state, jnp.asarray(centers)))
            run.bookkeeping_s += pc() - t
            g[3] = state
            for r, k in enumerate(idx):
                best[k] = float(b[r])
    else:
        for gen in range(gens):
            for g in groups:
                grp, idx, keys, state, centers, mask = g
                t0 = pc()
                pop, state = grp.ask(keys, gen, state)
                pop_np = np.asarray(pop)  # blocks; [S, lam, D]
                t1 = pc()
                f = sphere_stack(pop_np, centers, mask if pad else None)
                t2 = pc()
                state = jax.block_until_ready(grp.tell(keys, jnp.asarray(pop_np), jnp.asarray(f), state))
                t3 = pc()
                g[3] = state
                run.bookkeeping_s += (t1 - t0) + (t3 - t2)
                run.objective_s += t2 - t1
                fmin = f.min(axis=1)
                for r, k in enumerate(idx):
                    best[k] = min(best[k], float(fmin[r]))
    for grp, idx, keys, state, centers, mask in groups:
        m = np.asarray(state.mean)
        for r, k in enumerate(idx):
            means_out[k] = m[r, :insts[k].dim].copy()
    run.instance_generations = gens * len(insts)
    run.best, run.means = best, means_out
    return run


# --------------------------------------------------------------------------------------------------------------
# 4. Plain-numpy batched textbook CMA-ES (Hansen, "The CMA Evolution Strategy: A Tutorial", positive weights),
#    a measurement reference only: S instances of one (D, popsize) as stacked arrays


class NumpyBatchCMA:
    def __init__(self, means: np.ndarray, sigma0: float, lam: int, seeds, eig_every: int = 1,
                 tolx: float = 1e-4, tolfun: float = 1e-4):
        s, d = means.shape
        mu = lam // 2
        w = math.log(mu + 0.5) - np.log(np.arange(1, mu + 1))
        w /= w.sum()
        mueff = 1.0 / float((w ** 2).sum())
        self.lam, self.mu, self.w, self.mueff, self.d = lam, mu, w, mueff, d
        self.cc = (4 + mueff / d) / (d + 4 + 2 * mueff / d)
        self.cs = (mueff + 2) / (d + mueff + 5)
        self.c1 = 2 / ((d + 1.3) ** 2 + mueff)
        self.cmu = min(1 - self.c1, 2 * (mueff - 2 + 1 / mueff) / ((d + 2) ** 2 + mueff))
        self.damps = 1 + 2 * max(0.0, math.sqrt((mueff - 1) / (d + 1)) - 1) + self.cs
        self.chin = math.sqrt(d) * (1 - 1 / (4 * d) + 1 / (21 * d * d))
        self.mean = means.astype(float).copy()
        self.sigma = np.full(s, float(sigma0))
        self.ps = np.zeros((s, d))
        self.pc = np.zeros((s, d))
        self.C = np.broadcast_to(np.eye(d), (s, d, d)).copy()
        self.B = self.C.copy()
        self.D = np.ones((s, d))
        self.rngs = [np.random.default_rng(x) for x in seeds]  # one stream per instance
        self.eig_every, self.tolx, self.tolfun = eig_every, tolx, tolfun
        self.gen = 0
        self.y: np.ndarray | None = None
        self.stopped = np.zeros(s, dtype=bool)

    def ask(self) -> np.ndarray:
        z = np.stack([r.standard_normal((self.lam, self.d)) for r in self.rngs])  # [S, lam, D]
        bd = self.B * self.D[:, None, :]  # B diag(D)
        self.y = z @ bd.transpose(0, 2, 1)  # ~ N(0, C)
        return self.mean[:, None, :] + self.sigma[:, None, None] * self.y

    def tell(self, f: np.ndarray) -> None:
        self.gen += 1
        idx = np.argsort(f, axis=1, kind="stable")[:, :self.mu]
        ys = np.take_along_axis(self.y, idx[:, :, None], axis=1)  # [S, mu, D], best first
        yw = np.einsum("k,skd->sd", self.w, ys)
        self.mean += self.sigma[:, None] * yw
        t = np.einsum("sji,sj->si", self.B, yw) / self.D  # C^-1/2 yw = B D^-1 B^T yw
        cinv_yw = np.einsum("sij,sj->si", self.B, t)
        cs, cc, c1, cmu = self.cs, self.cc, self.c1, self.cmu
        self.ps = (1 - cs) * self.ps + math.sqrt(cs * (2 - cs) * self.mueff) * cinv_yw
        nps = np.sqrt((self.ps ** 2).sum(axis=1))
        hsig = (nps / np.sqrt(1 - (1 - cs) ** (2 * self.gen)) / self.chin) < (1.4 + 2 / (self.d + 1))
        self.pc = (1 - cc) * self.pc + (hsig * math.sqrt(cc * (2 - cc) * self.mueff))[:, None] * yw
        rank_mu = (ys * self.w[None, :, None]).transpose(0, 2, 1) @ ys
        rank_one = self.pc[:, :, None] * self.pc[:, None, :]
        old = ((1 - c1 - cmu) + c1 * (~hsig) * cc * (2 - cc))[:, None, None]
        self.C = old * self.C + c1 * rank_one + cmu * rank_mu
        self.sigma *= np.exp((cs / self.damps) * (nps / self.chin - 1))
        if self.gen % self.eig_every == 0:
            self.C = 0.5 * (self.C + self.C.transpose(0, 2, 1))
            d2, self.B = np.linalg.eigh(self.C)
            self.D = np.sqrt(np.maximum(d2, 1e-20))
        # the cheap part of a stop test (tolx, tolfun on the generation), so the loop is comparable to stop()
        diag = np.diagonal(self.C, axis1=1, axis2=2)
        self.stopped |= (self.sigma * np.sqrt(diag.max(axis=1)) < self.tolx) | (np.ptp(f, axis=1) < self.tolfun)


def run_numpy(insts: list[Instance], gens: int, eig_every: int) -> Run:
    run = Run()
    groups: dict[tuple[int, int], list[int]] = {}
    for k, inst in enumerate(insts):
        groups.setdefault((inst.dim, inst.popsize), []).append(k)
    batches = []
    t = time.perf_counter()
    for (d, lam), idx in groups.items():
        means = np.stack([box(d).start(insts[k].x0) for k in idx])
        batches.append((NumpyBatchCMA(means, SIGMA0, lam, [1 + insts[k].seed * 1009 for k in idx], eig_every),
                        idx, np.stack([insts[k].center for k in idx])))
    run.construct_s = time.perf_counter() - t
    run.constructors = len(insts)
    best = [math.inf] * len(insts)
    pc = time.perf_counter
    for _ in range(gens):
        for es, idx, centers in batches:
            t0 = pc()
            X = es.ask()
            t1 = pc()
            f = sphere_stack(X, centers)
            t2 = pc()
            es.tell(f)
            t3 = pc()
            run.bookkeeping_s += (t1 - t0) + (t3 - t2)
            run.objective_s += t2 - t1
            fmin = f.min(axis=1)
            for r, k in enumerate(idx):
                best[k] = min(best[k], float(fmin[r]))
    means_out: list[np.ndarray | None] = [None] * len(insts)
    for es, idx, _ in batches:
        for r, k in enumerate(idx):
            means_out[k] = es.mean[r].copy()
    run.instance_generations = gens * len(insts)
    run.best, run.means = best, means_out
    return run


# --------------------------------------------------------------------------------------------------------------


def variants() -> dict[str, tuple[str, object]]:
    """name -> (library version, run(insts, gens))."""
    v: dict[str, tuple[str, object]] = {}
    pv = f"cma {cma.__version__}"
    v["pycma, naas today (unbounded + UnitBox)"] = (pv, lambda i, g: run_pycma(i, g))
    v["pycma + updatecovwait=5"] = (pv, lambda i, g: run_pycma(i, g, {"updatecovwait": 5}))
    v["pycma + CMA_diagonal=True (sep-CMA)"] = (pv, lambda i, g: run_pycma(i, g, {"CMA_diagonal": True}))
    if cmaes is not None:
        cv = f"cmaes {version('cmaes')}"
        v["cmaes, unbounded + UnitBox"] = (cv, lambda i, g: run_cmaes(i, g, own_bounds=False))
        v["cmaes, bounds=[0,1] (resampling)"] = (cv, lambda i, g: run_cmaes(i, g, own_bounds=True))
    if evosax_algorithms is not None:
        ev = f"evosax {version('evosax')} / jax {version('jax')}"
        v["evosax vmap, grouped by D (3 groups)"] = (ev, lambda i, g: run_evosax(i, g))
        v["evosax vmap, padded to max D (1 group)"] = (ev, lambda i, g: run_evosax(i, g, pad=True))
        v["evosax vmap + lax.scan, objective in JAX (bound)"] = (ev, lambda i, g: run_evosax(i, g, fused=True))
    nv = f"numpy {np.__version__}"
    v["numpy batched textbook, eigh every gen"] = (nv, lambda i, g: run_numpy(i, g, 1))
    v["numpy batched textbook, eigh every 5 gens"] = (nv, lambda i, g: run_numpy(i, g, 5))
    return v


def determinism(insts: list[Instance], gens: int) -> None:
    """Same seed twice; the first instance of the most common D alone versus in the batch of all 24 (lockstep)."""
    common = statistics.mode(i.dim for i in insts)
    k = next(j for j, inst in enumerate(insts) if inst.dim == common)
    checks = {
        "pycma (global np.random, seeded by the constructor)": lambda s: run_pycma(s, gens),
        "pycma with a per-instance randn option": lambda s: run_pycma(s, gens, own_randn=True),
    }
    if cmaes is not None:
        checks["cmaes (own RandomState per instance)"] = lambda s: run_cmaes(s, gens, own_bounds=False)
    if evosax_algorithms is not None:
        checks["evosax vmap, grouped by D"] = lambda s: run_evosax(s, gens)
        checks["evosax vmap, padded to max D"] = lambda s: run_evosax(s, gens, pad=True)
    checks["numpy batched textbook (Generator per instance)"] = lambda s: run_numpy(s, gens, 1)
    print(f"\n## Determinism (instance {k}, D={insts[k].dim}, {gens} generations; final mean compared)\n")
    print("| variant | same seed twice (batch of 24) | alone vs in batch of 24 | max abs diff alone vs batch |")
    print("|---|---|---|---|")
    for name, fn in checks.items():
        a, b, alone = fn(insts), fn(insts), fn([insts[k]])
        same = all(np.array_equal(x, y) for x, y in zip(a.means, b.means))
        diff = float(np.max(np.abs(a.means[k] - alone.means[0])))
        print(f"| {name} | {'identical' if same else 'DIFFERENT'} | "
              f"{'identical' if np.array_equal(a.means[k], alone.means[0]) else 'DIFFERENT'} | {diff:.3g} |")
    if evosax_algorithms is not None:
        evosax_batch_sizes(insts, k, gens)


def evosax_batch_sizes(insts: list[Instance], k: int, gens: int) -> None:
    """Instance k in vmapped groups of other sizes (companions: its D-group, then copies with other seeds and
    centres), and at the same size with other companions / at another position; compared with the real run."""
    same_d = [i for i in insts if i.dim == insts[k].dim and i is not insts[k]]
    others = [replace(i, seed=i.seed + 100 * r, center=i.center[::-1].copy())
              for r in range(1, 4) for i in same_d]
    ref = run_evosax(insts, gens).means[k]
    group = len(same_d) + 1
    print(f"\nevosax, instance {k} in a vmapped batch of n instances of D={insts[k].dim}, versus its run in the "
          f"workload (group of {group}): ", end="")
    cells = []
    for n in (1, 2, 4, 8, group, 16, 24, 32):
        m = run_evosax([insts[k]] + others[:n - 1], gens).means[0]
        cells.append(f"n={n} {'identical' if np.array_equal(m, ref) else f'differs ({np.max(np.abs(m - ref)):.2g})'}")
    m = run_evosax(others[:group - 1][:5] + [insts[k]] + others[:group - 1][5:], gens).means[5]
    cells.append(f"n={group} other companions, position 5 "
                 f"{'identical' if np.array_equal(m, ref) else f'differs ({np.max(np.abs(m - ref)):.2g})'}")
    print("; ".join(cells))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--network", default="resnet50")
    ap.add_argument("--accelerator", default="eyeriss")
    ap.add_argument("--generations", type=int, default=150)
    ap.add_argument("--budget", type=int, default=2000, help="evaluations per shape in the workload total")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default="", help="comma-separated substrings of variant names")
    ap.add_argument("--no-determinism", action="store_true")
    args = ap.parse_args()
    insts = workload(args.network, args.accelerator)
    dims = sorted({i.dim for i in insts})
    inst_gens = sum(args.budget / i.popsize for i in insts)
    print(f"# {args.network} on {args.accelerator}: {len(insts)} shapes, D = "
          + ", ".join(f"{d} (x{sum(i.dim == d for i in insts)}, popsize {4 + int(3 * math.log(d))})" for d in dims)
          + f"; {args.generations} generations; workload = {inst_gens:.0f} instance-generations "
          f"({args.budget} evaluations per shape); python {sys.version.split()[0]}")
    vs = variants()
    if args.only:
        keep = [s.strip() for s in args.only.split(",")]
        vs = {n: v for n, v in vs.items() if any(s in n for s in keep)}
    for d in dims:  # warm-up: Numba (UnitBox) and first-call costs
        box(d)(np.zeros((2, d)))
    for _, fn in vs.values():
        fn(insts[:2], 3)
    runs: dict[str, list[Run]] = {n: [] for n in vs}
    for rep in range(args.repeats):
        for name, (_, fn) in vs.items():
            runs[name].append(fn(insts, args.generations))
        print(f"# repeat {rep + 1}/{args.repeats}: " + ", ".join(
            f"{n.split(',')[0]} {runs[n][-1].us_per_instance_generation:.0f}" for n in vs), flush=True)
    if IMPORT_S:
        print("# import time: " + ", ".join(f"{n} {t:.2f} s" for n, t in IMPORT_S.items()))
    print(f"\n| variant | version | us per instance-generation (ask+tell), median of {args.repeats} | "
          "speed-up vs first row (median of per-repeat ratios) | objective us | constructor ms | JIT compile s | "
          f"workload s ({len(insts)} shapes x {args.budget} evals) | best f median / max over {len(insts)} |")
    print("|---|---|---|---|---|---|---|---|---|")
    first = next(iter(vs))

    def workload_s(r: Run) -> float:
        return r.us_per_instance_generation * 1e-6 * inst_gens + r.construct_ms * 1e-3 * len(insts)

    for name, (ver, _) in vs.items():
        rs = runs[name]
        us = statistics.median(r.us_per_instance_generation for r in rs)
        ratio = statistics.median(workload_s(b) / workload_s(r) for b, r in zip(runs[first], rs))
        obj = statistics.median(1e6 * r.objective_s / r.instance_generations for r in rs)
        ctor = statistics.median(r.construct_ms for r in rs)
        comp = max(r.compile_s for r in rs)
        total = statistics.median(workload_s(r) for r in rs)
        bests = rs[-1].best
        print(f"| {name} | {ver} | {us:.1f} | {ratio:.1f}x | {obj:.1f} | {ctor:.3f} | {comp:.2f} | {total:.3f} | "
              f"{statistics.median(bests):.2g} / {max(bests):.2g} |")
    if not args.no_determinism:
        determinism(insts, args.generations)


if __name__ == "__main__":
    main()
