"""Layer-mapping evaluations per second on one core: single calls from Python and batched kernel calls,
for the 3-level template kernel and for the general-hierarchy kernel (the template written as a hierarchy,
and deeper built-in hierarchies such as eyeriss-hier's 5 levels).

Usage: python benchmarks/bench_cost_model.py [--batch 200000] [--repeats 5]

Only valid mappings are timed (invalid ones exit the kernel early and would flatter the figure).
Prints the median of several repeats; compare figures measured in one run, the machine is shared.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from cost_model.accelerator import load_accelerator  # noqa: E402
from cost_model.evaluate import evaluate_layer, evaluate_mappings, evaluate_stats  # noqa: E402
from cost_model.hierarchy import hierarchy_from_accelerator  # noqa: E402
from cost_model.hierarchy_yaml import load_hierarchy  # noqa: E402
from cost_model.nest_evaluate import evaluate_nests  # noqa: E402
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
        ok = evaluate_mappings(layer, acc, f, o)[:, 0] == 0
        fs.append(f[ok])
        os_.append(o[ok])
        have += int(ok.sum())
    return np.concatenate(fs)[:want], np.concatenate(os_)[:want]


def valid_nest_pool(layer, hier, want: int, rng) -> tuple[np.ndarray, ...]:
    parts, have = [], 0
    while have < want:
        arrays = random_nest_mappings(layer, hier, 4000, rng)
        ok = evaluate_nests(layer, hier, *arrays)[:, 0] == 0
        parts.append([a[ok] for a in arrays])
        have += int(ok.sum())
    return tuple(np.concatenate([p[k] for p in parts])[:want] for k in range(3))


def batched_rate(layer, hier, arrays, batch: int, repeats: int) -> float:
    reps = -(-batch // len(arrays[0]))
    tiled = [np.ascontiguousarray(np.tile(a, (reps, 1, 1))[:batch]) for a in arrays]
    out = evaluate_nests(layer, hier, *[a[:10] for a in tiled])  # compile / load cache
    out = np.empty((batch, out.shape[1]))
    rates = []
    for _ in range(repeats):
        t = time.perf_counter()
        evaluate_nests(layer, hier, *tiled, out)
        rates.append(batch / (time.perf_counter() - t))
    assert (out[:, 0] == 0).all()
    return statistics.median(rates)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=200_000)
    ap.add_argument("--singles", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
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
        evaluate_mappings(layer, acc, f[:10], o[:10], out[:10])  # compile / load cache
        batched = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            evaluate_mappings(layer, acc, f, o, out)
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


if __name__ == "__main__":
    main()
