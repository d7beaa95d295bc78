"""Capacity repair in the nest mapping encoding (``mapping.nest_encoding``): search quality, valid samples
and time with and without it, at equal budget, on the published register hierarchies.

    python experiments/nest_repair.py            # 4 layers x 3 seeds x 2,000 evaluations per hierarchy
    python experiments/nest_repair.py --quick

Prints, per hierarchy, the geomean over (layer, seed) of EDP(repair) / EDP(no repair) with its range, the
share of valid samples and the wall time of both; writes rows.csv.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread: cma's eigendecomposition is slower multi-threaded here

import naas  # noqa: E402

naas.reproducible()  # before numpy loads: pins OpenBLAS's kernels and threads

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from cost_model.hierarchy_yaml import load_hierarchy  # noqa: E402
from mapping import nest_search  # noqa: E402
from mapping.nest_encoding import NestEncoder  # noqa: E402
from nn_space.layers import ConvLayer  # noqa: E402

HIERARCHIES = ("eyeriss-hier", "nvdla-256-hier", "shidiannao-hier", "edgetpu-hier")
LAYERS = (ConvLayer(k=64, c=64, y=28, x=28, r=3, s=3, name="conv3x3"),
          ConvLayer(k=128, c=64, y=28, x=28, r=1, s=1, name="conv1x1"),
          ConvLayer(k=96, c=96, y=28, x=28, r=3, s=3, groups=96, name="dw3x3"),
          ConvLayer(k=64, c=3, y=112, x=112, r=7, s=7, stride_y=2, stride_x=2, name="stem7x7s2"))


def run(hier_name: str, repair: bool, layers, seeds: int, budget: int) -> list[dict]:
    hier = load_hierarchy(hier_name)
    original = nest_search.NestEncoder
    nest_search.NestEncoder = lambda layer, h, exact=False, encoding="importance": \
        NestEncoder(layer, h, exact, encoding, repair=repair)
    try:
        rows = []
        for layer in layers:
            for seed in range(seeds):
                t = time.perf_counter()
                r = nest_search.search_nest_layer(layer, hier, budget=budget, seed=seed)
                rows.append({"hierarchy": hier_name, "repair": repair, "layer": layer.name, "seed": seed,
                             "edp": r.best, "valid": r.valid_evaluations / r.evaluations,
                             "seconds": time.perf_counter() - t})
        return rows
    finally:
        nest_search.NestEncoder = original


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--budget", type=int, default=2000)
    p.add_argument("--quick", action="store_true", help="2 layers, 1 seed, 300 evaluations")
    p.add_argument("--out", default="experiments/results/nest_repair")
    args = p.parse_args(argv)
    layers = LAYERS[:2] if args.quick else LAYERS
    seeds, budget = (1, 300) if args.quick else (args.seeds, args.budget)
    rows = []
    run(HIERARCHIES[0], True, layers[:1], 1, 50)  # compile before timing
    for name in HIERARCHIES:
        for repair in (False, True):
            rows += run(name, repair, layers, seeds, budget)
        df = pd.DataFrame([r for r in rows if r["hierarchy"] == name])
        a, b = df[~df.repair].reset_index(), df[df.repair].reset_index()
        ratio = np.log(b.edp) - np.log(a.edp)
        print(f"{name}: EDP repair / no repair geomean {math.exp(ratio.mean()):.3f} (range "
              f"{math.exp(ratio.min()):.3f}-{math.exp(ratio.max()):.3f}); valid samples {a.valid.mean():.1%} -> "
              f"{b.valid.mean():.1%}; time {a.seconds.sum():.1f} s -> {b.seconds.sum():.1f} s", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(out / "rows.csv", index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
