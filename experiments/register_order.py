"""The PE's loop order matters once the PE has a register: same tiles, weight-, output- and input-stationary
orders inside the PE, with and without a 1-word-per-tensor register level below the PE buffer.

Usage: python experiments/register_order.py [--accelerator eyeriss] [--network resnet50] [--budget 500]
           [--out experiments/results/register_order]

For each distinct layer shape, the mapping searched on the 3-level template (as a hierarchy) keeps its tiles;
only the PE buffer's loop order changes (WS: Y, X innermost, so a weight stays in the register; OS: C, R, S
innermost, so a partial sum stays; IS: K innermost, so an input stays). Without the register every order
costs the same (every MAC reads its operands from the PE buffer); with it they differ.
"""
from __future__ import annotations

import argparse
import math
from dataclasses import replace
from pathlib import Path

import naas

naas.reproducible()  # before numpy loads: pins OpenBLAS's kernels and threads

import pandas as pd  # noqa: E402

from cost_model.accelerator import load_accelerator  # noqa: E402
from cost_model.hierarchy import Hierarchy, StorageLevel, hierarchy_from_accelerator  # noqa: E402
from cost_model.nest_evaluate import evaluate_nest  # noqa: E402
from mapping.nest import LevelMapping, NestMapping  # noqa: E402
from mapping.nest_search import search_nest_layer  # noqa: E402
from nn_space.zoo import get_network  # noqa: E402

ORDERS = {"WS": "NKCRSYX", "OS": "NKYXCRS", "IS": "NCYXRSK"}


def with_register(hier: Hierarchy) -> Hierarchy:
    """The hierarchy with a register level (1 word of each tensor, priced by the energy table's per-PE
    curve at its size) below its innermost level."""
    reg = StorageLevel("register", size_bytes=3 * hier.word_bits / 8, energy="spad")  # table's per-PE curve
    return replace(hier, name=f"{hier.name}+register", levels=hier.levels + (reg,))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accelerator", default="eyeriss")
    ap.add_argument("--network", default="resnet50")
    ap.add_argument("--budget", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    base = hierarchy_from_accelerator(load_accelerator(args.accelerator))
    reg = with_register(base)
    rows = []
    for layer, count in get_network(args.network).unique_layers():
        found = search_nest_layer(layer, base, budget=args.budget, seed=args.seed).mapping
        row = {"layer": layer.name, "shape": layer.describe(), "count": count}
        for name, order in ORDERS.items():
            pe = replace(found.levels[-1], order=order)
            plain = NestMapping(found.levels[:-1] + (pe,))
            deep = NestMapping(found.levels[:-1] + (pe, LevelMapping()))
            row[f"no register {name}"] = evaluate_nest(layer, base, plain).energy
            row[f"register {name}"] = evaluate_nest(layer, reg, deep).energy
        rows.append(row)
    df = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print(df.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    same = all(len({r[f"no register {n}"] for n in ORDERS}) == 1 for r in rows)
    spread = [max(r[f"register {n}"] for n in ORDERS) / min(r[f"register {n}"] for n in ORDERS) for r in rows]
    best = {n: sum(min(ORDERS, key=lambda m: r[f"register {m}"]) == n for r in rows) for n in ORDERS}
    geo = math.exp(sum(map(math.log, spread)) / len(spread))
    print(f"\nwithout a register all three orders cost the same energy on every shape: {same}")
    print(f"with a register, worst/best order energy per shape: geomean {geo:.3f}, max {max(spread):.3f}; "
          f"lowest-energy order (ties: the first of WS, OS, IS): " + ", ".join(f"{n} on {k}" for n, k in best.items()))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        df.to_csv(out / f"{args.accelerator}_{args.network}.csv", index=False)


if __name__ == "__main__":
    main()
