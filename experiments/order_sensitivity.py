"""How much the loop orders matter once the tiling is fixed (issue 3: why the encodings end up close).

    python experiments/order_sensitivity.py                          # ResNet-50 on Eyeriss
    python experiments/order_sensitivity.py --accelerator nvdla-256 --network mobilenetv2
    python experiments/order_sensitivity.py --quick                  # smoke run (AlexNet, small budget)

Per distinct layer shape: the best mapping of the experiments' re-costing (per shape, the best of three
mapping searches), then its tiling and L1 order kept and every pair of DRAM-level and L2-level orders of
(K, C, Y', X', R, S) costed (720 x 720, N outermost; one kernel call). Printed per shape: the searched
mapping's EDP and the median and worst over all order pairs, each relative to the best order pair, and how
many dims have a factor > 1 at the DRAM and L2 levels (only those dims' order can change a count). Saves
rows.csv.
"""
from __future__ import annotations

import argparse
import itertools
import math
import sys
from pathlib import Path

import naas  # noqa: E402

naas.reproducible()  # before numpy loads: pins OpenBLAS's kernels and threads

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from cost_model.accelerator import load_accelerator  # noqa: E402
from cost_model.evaluate import evaluate_mappings  # noqa: E402
from cost_model.stats import ST_EDP  # noqa: E402
from mapping.network_search import MappingCache, SearchSettings, final_portfolio  # noqa: E402
from nn_space.zoo import get_network  # noqa: E402

#: every order of the six non-batch dims, N (index 0) outermost
ORDERS = np.array([[0] + [d + 1 for d in p] for p in itertools.permutations(range(6))], dtype=np.int64)


def order_pairs(mapping) -> tuple[np.ndarray, np.ndarray]:
    """(factors, orders) batches: ``mapping``'s tiling and L1 order under every (L2, DRAM) order pair."""
    n = len(ORDERS) ** 2
    factors = np.repeat(mapping.factor_array[None], n, axis=0)
    orders = np.empty((n, 3, 7), dtype=np.int64)
    orders[:, 0] = mapping.order_array[0]
    orders[:, 1] = np.repeat(ORDERS, len(ORDERS), axis=0)
    orders[:, 2] = np.tile(ORDERS, (len(ORDERS), 1))
    return factors, orders


def main(argv=None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accelerator", default="eyeriss")
    ap.add_argument("--network", default="resnet50")
    ap.add_argument("--budget", type=int, default=2000, help="mapping evaluations per shape and search")
    ap.add_argument("--out", default="experiments/results/order_sensitivity")
    ap.add_argument("--quick", action="store_true", help="AlexNet, 100 evaluations per shape")
    args = ap.parse_args(argv)
    acc = load_accelerator(args.accelerator)
    net = get_network("alexnet" if args.quick else args.network)
    portfolio = final_portfolio(SearchSettings(budget=100 if args.quick else args.budget, x0="best-default",
                                               sigma0=0.15))
    cache = MappingCache()
    rows = []
    for layer, _ in net.unique_layers():
        mapping = min((cache.result(layer, acc, s) for s in portfolio), key=lambda r: r.best).mapping
        stats = evaluate_mappings(layer, acc, *order_pairs(mapping))
        edp = stats[stats[:, 0] == 0, ST_EDP]  # a reorder never changes tile sizes: all stay valid
        own = evaluate_mappings(layer, acc, mapping.factor_array[None], mapping.order_array[None])[0, ST_EDP]
        best = edp.min()
        rows.append({"layer": layer.name, "searched / best order": own / best,
                     "median order / best": float(np.median(edp)) / best, "worst order / best": edp.max() / best,
                     "valid order pairs": len(edp),
                     "DRAM dims > 1": int((mapping.factor_array[3, 1:] > 1).sum()),
                     "L2 dims > 1": int((mapping.factor_array[2, 1:] > 1).sum())})
    df = pd.DataFrame(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "rows.csv", index=False)
    print(df.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    ratios = [c for c in df.columns if "/" in c]
    print(f"{acc.name}, {net.name}, geomean over {len(df)} shapes: " + ", ".join(
        f"{c} {math.exp(np.log(df[c]).mean()):.3f}" for c in ratios))
    print(f"wrote {out / 'rows.csv'}", file=sys.stderr)
    return df


if __name__ == "__main__":
    main()
