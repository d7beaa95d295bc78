"""Layer-mapping evaluations per second on one core: single calls from Python and batched kernel calls,
for the 3-level template kernel and for the general-hierarchy kernel (the template written as a hierarchy,
and deeper built-in hierarchies such as eyeriss-hier's 5 levels). Then (unless ``--no-threads``) the
parallel batch kernels on one large batch at 1 and 2 threads, alternated, and their ratio last.

Usage: python benchmarks/bench_cost_model.py [--batch 200000] [--repeats 5] [--thread-repeats 9]
       [--no-threads | --threads-only]

Only valid mappings are timed (invalid ones exit the kernel early and would flatter the figure).
Prints the median of several repeats; compare figures measured in one run, the machine is shared.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "2")  # the thread section's ceiling; the other sections use 1

import numba  # noqa: E402
import numpy as np  # noqa: E402

from cost_model.accelerator import load_accelerator  # noqa: E402
from cost_model.evaluate import evaluate_layer, evaluate_mappings, evaluate_stats, layer_array  # noqa: E402
from cost_model.hierarchy import hierarchy_from_accelerator  # noqa: E402
from cost_model.hierarchy_yaml import load_hierarchy  # noqa: E402
from cost_model.kernel import evaluate_batch, evaluate_batch_parallel  # noqa: E402
from cost_model.nest_evaluate import evaluate_nests  # noqa: E402
from cost_model.nest_kernel import nest_evaluate_batch, nest_evaluate_batch_parallel  # noqa: E402
from mapping.nest import template_arrays  # noqa: E402
from mapping.nest_random import random_nest_mappings  # noqa: E402
from cost_model.stats import NUM_STATS  # noqa: E402
from mapping.random_mapping import random_mappings  # noqa: E402
from mapping.spec import Mapping  # noqa: E402
from nn_space.zoo import get_network  # noqa: E402


def valid_pool(layer, acc, want: int, rng) -> tuple[np.ndarray, np.ndarray]:
    fs, os_ = [], []
    have = 0
    while have < want:
        f, o = random_mappings(layer, acc, 4000, rng)
        ok = evaluate_mappings(layer, acc, f, o, parallel=False)[:, 0] == 0
        fs.append(f[ok])
        os_.append(o[ok])
        have += int(ok.sum())
    return np.concatenate(fs)[:want], np.concatenate(os_)[:want]


def valid_nest_pool(layer, hier, want: int, rng) -> tuple[np.ndarray, ...]:
    parts, have = [], 0
    while have < want:
        arrays = random_nest_mappings(layer, hier, 4000, rng)
        ok = evaluate_nests(layer, hier, *arrays, parallel=False)[:, 0] == 0
        parts.append([a[ok] for a in arrays])
        have += int(ok.sum())
    return tuple(np.concatenate([p[k] for p in parts])[:want] for k in range(3))


def tiled(arrays, batch: int) -> list[np.ndarray]:
    reps = -(-batch // len(arrays[0]))
    return [np.ascontiguousarray(np.tile(a, (reps, 1, 1))[:batch]) for a in arrays]


def batched_rate(layer, hier, arrays, batch: int, repeats: int) -> float:
    tiled_arrays = tiled(arrays, batch)
    out = evaluate_nests(layer, hier, *[a[:10] for a in tiled_arrays], parallel=False)  # compile / load cache
    out = np.empty((batch, out.shape[1]))
    rates = []
    for _ in range(repeats):
        t = time.perf_counter()
        evaluate_nests(layer, hier, *tiled_arrays, out, parallel=False)
        rates.append(batch / (time.perf_counter() - t))
    assert (out[:, 0] == 0).all()
    return statistics.median(rates)


FREE_CORES = 1.9  # a 2-thread call that got this much CPU time per wall second had both cores to itself


def thread_rates(serial, parallel, args: tuple, batch: int, repeats: int) -> dict[str, list[float]]:
    """Evaluations/s of the serial kernel and of the parallel one at 1 and at 2 threads, alternated repeat by
    repeat (so a change in the machine's load hits all three alike); "cores": CPU time / wall time of the
    2-thread calls (below 2 when another process had the second core; idle OpenMP threads spin a little)."""
    rates: dict[str, list[float]] = {"serial": [], "1 thread": [], "2 threads": [], "cores": []}
    for _ in range(repeats):
        t = time.perf_counter()
        serial(*args)
        rates["serial"].append(batch / (time.perf_counter() - t))
        for n in (1, 2):
            numba.set_num_threads(n)
            t, c = time.perf_counter(), time.process_time()
            parallel(*args)
            wall = time.perf_counter() - t
            rates[f"{n} thread" + ("s" if n > 1 else "")].append(batch / wall)
            if n == 2:
                rates["cores"].append((time.process_time() - c) / wall)
        numba.set_num_threads(1)
    return rates


def thread_section(batch: int, repeats: int, rng) -> None:
    """The parallel batch kernels on ``batch`` valid mappings at 1 and 2 Numba threads (issue 25: >= 1.8x)."""
    if numba.config.NUMBA_NUM_THREADS < 2:
        print(f"\nparallel kernels: skipped, NUMBA_NUM_THREADS={numba.config.NUMBA_NUM_THREADS}")
        return
    acc, hier = load_accelerator("eyeriss"), load_hierarchy("eyeriss-hier")
    layer = get_network("resnet50").layers[5]
    f, o = tiled(valid_pool(layer, acc, 10_000, rng), batch)
    out = np.empty((batch, NUM_STATS))
    nest = tiled(valid_nest_pool(layer, hier, 10_000, rng), batch)
    nest_out = np.empty((batch, evaluate_nests(layer, hier, *[a[:1] for a in nest]).shape[1]))
    lv = layer_array(layer)
    cases = [("eyeriss, 3-level kernel", evaluate_batch, evaluate_batch_parallel,
              lambda n: (lv, acc.hw_vector, f[:n], o[:n], out[:n])),
             ("eyeriss-hier, hierarchy kernel", nest_evaluate_batch, nest_evaluate_batch_parallel,
              lambda n: (lv, hier.hw_array, hier.glob_vector, *[a[:n] for a in nest], nest_out[:n]))]
    print(f"\nparallel batch kernels, {batch:,} valid mappings of {layer.describe()}, {repeats} repeats "
          f"alternated (medians; the machine is shared: 'cores' < 2 means the second core was busy)")
    print(f"{'case':32s} {'serial':>11s} {'1 thread':>11s} {'2 threads':>11s} {'cores':>6s} "
          f"{'2 thr/serial':>12s} {'2/1 thread':>10s}")
    free = []
    for name, serial, parallel, args in cases:
        serial(*args(300))  # compile / load cache
        parallel(*args(300))
        r = thread_rates(serial, parallel, args(batch), batch, repeats)
        med = {k: statistics.median(v) for k, v in r.items()}
        print(f"{name:32s} {med['serial']:11,.0f} {med['1 thread']:11,.0f} {med['2 threads']:11,.0f} "
              f"{med['cores']:6.2f} {med['2 threads'] / med['serial']:11.2f}x "
              f"{med['2 threads'] / med['1 thread']:9.2f}x")
        paired = [(two / one, cores) for one, two, cores in zip(r["1 thread"], r["2 threads"], r["cores"])]
        kept = [q for q, cores in paired if cores >= FREE_CORES]
        free.append(f"{name}: {len(kept)} of {repeats} repeats, "
                    + (f"2/1 thread {statistics.median(kept):.2f}x" if kept else "none"))
    print(f"repeats whose 2-thread call had both cores (cores >= {FREE_CORES}), median of their paired ratios:")
    for line in free:
        print("  " + line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=200_000)
    ap.add_argument("--singles", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--thread-repeats", type=int, default=9, help="alternated repeats of the thread section")
    ap.add_argument("--no-threads", action="store_true", help="skip the 1 vs 2 threads section")
    ap.add_argument("--threads-only", action="store_true", help="only the 1 vs 2 threads section")
    args = ap.parse_args()
    numba.set_num_threads(1)  # the single-core sections
    rng = np.random.default_rng(0)
    if args.threads_only:
        thread_section(args.batch, args.thread_repeats, rng)
        return
    hier_rates = []
    cases = [("eyeriss", "resnet50", 5), ("nvdla-256", "mobilenetv2", 4), ("shidiannao", "vgg16", 3)]
    print(f"{'accelerator':12s} {'layer':32s} {'batched evals/s':>16s} {'single call':>12s} "
          f"{'evaluate_layer':>15s}")
    for acc_name, net_name, idx in cases:
        acc = load_accelerator(acc_name)
        layer = get_network(net_name).layers[idx]
        pool_f, pool_o = valid_pool(layer, acc, 10_000, rng)
        reps = -(-args.batch // len(pool_f))
        f = np.ascontiguousarray(np.tile(pool_f, (reps, 1, 1))[:args.batch])
        o = np.ascontiguousarray(np.tile(pool_o, (reps, 1, 1))[:args.batch])
        out = np.empty((len(f), NUM_STATS))
        evaluate_mappings(layer, acc, f[:10], o[:10], out[:10], parallel=False)  # compile / load cache
        batched = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            evaluate_mappings(layer, acc, f, o, out, parallel=False)
            batched.append(len(f) / (time.perf_counter() - t))
        assert (out[:, 0] == 0).all()
        maps = [Mapping.from_arrays(pool_f[i], pool_o[i]) for i in range(min(args.singles, len(pool_f)))]
        for m in maps:  # build the cached arrays outside the timed loop, as a search would
            m.factor_array, m.order_array
        vec = np.empty(NUM_STATS)
        singles, wrapped = [], []
        for _ in range(args.repeats):
            t = time.perf_counter()
            for m in maps:
                evaluate_stats(layer, acc, m, vec)
            singles.append((time.perf_counter() - t) / len(maps))
            t = time.perf_counter()
            for m in maps[:2000]:
                evaluate_layer(layer, acc, m)
            wrapped.append((time.perf_counter() - t) / min(2000, len(maps)))
        print(f"{acc_name:12s} {layer.describe():32s} {statistics.median(batched):16,.0f} "
              f"{1e6 * statistics.median(singles):10.2f}us {1e6 * statistics.median(wrapped):13.2f}us")
        hier_rates.append((f"{acc_name} (template as hierarchy, 3 levels)", layer.describe(),
                           batched_rate(layer, hierarchy_from_accelerator(acc),
                                        template_arrays(pool_f, pool_o), args.batch, args.repeats)))
    for hier_name, net_name, idx in (("eyeriss-hier", "resnet50", 5), ("nvdla-256-hier", "mobilenetv2", 4),
                                     ("tpu-v1-hier", "resnet50", 5)):
        hier = load_hierarchy(hier_name)
        layer = get_network(net_name).layers[idx]
        pool = valid_nest_pool(layer, hier, 10_000, rng)
        hier_rates.append((f"{hier_name} ({hier.num_levels} levels)", layer.describe(),
                           batched_rate(layer, hier, pool, args.batch, args.repeats)))
    print(f"\ngeneral-hierarchy kernel, batched, one core\n{'hierarchy':42s} {'layer':32s} {'evals/s':>12s}")
    for name, desc, rate in hier_rates:
        print(f"{name:42s} {desc:32s} {rate:12,.0f}")
    if not args.no_threads:
        thread_section(args.batch, args.thread_repeats, rng)


if __name__ == "__main__":
    main()
