"""The built-in transformers (issue 26): MACs against published counts, and what the model does not cost.

    python experiments/transformer_zoo.py          # writes experiments/results/transformers/zoo.{csv,md}

Per network: layers, distinct layer shapes, MACs (and the published count where one exists: ViT-B/16 17.6 G
from timm's model card / fvcore, BERT-base at 128 tokens 11.2 G), then every operation kind the cost model
leaves out (softmax, layer norm, GELU, residual adds, ...) with its count and the elements it produces.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from nn_space.transformers import TRANSFORMERS
from nn_space.zoo import get_network

#: Published MACs (G) the zoo's counts are checked against (tests/test_transformer_zoo.py checks the 2%).
PUBLISHED_GMACS = {"vit_b16": (17.6, "timm model card / fvcore"), "bert_base": (11.2, "commonly quoted, ~22.5 GFLOPs")}


def tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per network, one row per network and uncosted op kind)."""
    nets, ops = [], []
    for name in TRANSFORMERS:
        net = get_network(name)
        pub = PUBLISHED_GMACS.get(name)
        nets.append({"network": name, "input": net.describe_input(), "layers": len(net.layers),
                     "distinct shapes": len(net.unique_layers()), "GMACs": net.macs / 1e9,
                     "published GMACs": pub[0] if pub else None,
                     "difference %": 100 * (net.macs / 1e9 / pub[0] - 1) if pub else None,
                     "source": pub[1] if pub else "closed form (nn_space/transformers.py)"})
        for op, (count, elements) in net.uncosted_totals().items():
            ops.append({"network": name, "op": op, "count": count, "M elements": elements / 1e6,
                        "elements per MAC": elements / net.macs})
    return pd.DataFrame(nets), pd.DataFrame(ops)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="experiments/results/transformers")
    args = ap.parse_args(argv)
    nets, ops = tables()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    nets.to_csv(out / "zoo.csv", index=False)
    ops.to_csv(out / "zoo_uncosted.csv", index=False)
    md = ["# Built-in transformers: MACs and what is not costed", "", "`python experiments/transformer_zoo.py`", "",
          nets.to_markdown(index=False, floatfmt=".4g"), "",
          "## Operations the model does not cost (elements each produces, summed per kind)", "",
          ops.to_markdown(index=False, floatfmt=".4g"), ""]
    (out / "zoo.md").write_text("\n".join(md))
    print(nets.to_string(index=False))
    print(f"wrote {out / 'zoo.md'}, zoo.csv, zoo_uncosted.csv", file=sys.stderr)


if __name__ == "__main__":
    main()
