"""Tables and the plot of a trade-off curve and its references (``naas tradeoff``; issue 27).

The frame holds one row per point (``naas.tradeoff_search.COLUMNS``), the methods being:

- ``co-design``: subnet + accelerator + mappings per target (``naas.tradeoff_search``);
- ``network-only``: subnet search per target on the fixed baseline;
- ``hardware-only``: the accelerator searched for one fixed network;
- ``fixed network``: a published network on the baseline at its best mapping.

At each target, each method's point is its lowest-EDP point whose predicted accuracy meets the target, whichever
target it was searched for (a subnet meeting a higher target meets the lower ones). Networks outside the space
(no prediction, only a published ImageNet top-1) are plotted and listed but never compared.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from nn_space.accuracy import ACCURACY_LABEL

from .joint_search import ACCURACY_TOLERANCE

METHODS = ("co-design", "network-only", "hardware-only", "fixed network")
MARKERS = {"co-design": "o", "network-only": "s", "hardware-only": "^", "fixed network": "D"}


def best_meeting(frame: pd.DataFrame, method: str, target: float) -> pd.Series | None:
    """The lowest-EDP point of ``method`` whose predicted accuracy meets ``target``, or None: for every method
    alike, so a point found for a higher target counts at the lower ones it meets (each curve is monotone)."""
    rows = frame[(frame.method == method) & frame.accuracy.notna()]
    rows = rows[rows.accuracy >= target - ACCURACY_TOLERANCE]
    return None if rows.empty else rows.sort_values(["edp", "name"]).iloc[0]


def comparison(frame: pd.DataFrame) -> pd.DataFrame:
    """Per target: each method's best EDP meeting it, and each reference's EDP over co-design's."""
    targets = sorted(frame[frame.method == "co-design"].target.dropna().unique(), reverse=True)
    rows = []
    for t in targets:
        row = {"target": t}
        best = {m: best_meeting(frame, m, t) for m in METHODS}
        for m, p in best.items():
            row[f"{m} EDP"] = p.edp if p is not None else math.nan
            if m != "co-design":
                row[f"{m} point"] = p["name"] if p is not None else ""
        co = row["co-design EDP"]
        for m in METHODS[1:]:
            row[f"{m} / co-design"] = row[f"{m} EDP"] / co if co and not math.isnan(row[f"{m} EDP"]) else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def plot(frame: pd.DataFrame, path: str | Path, title: str) -> Path:
    """Predicted accuracy against EDP (log axis), one curve or point set per method, points labelled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 6))
    for method in METHODS:
        rows = frame[frame.method == method].sort_values("accuracy")
        if rows.empty:
            continue
        known = rows[rows.accuracy.notna()]
        line = "-" if rows.target.notna().any() else "none"
        ax.plot(known.accuracy * 100, known.edp, marker=MARKERS[method], linestyle=line, label=method)
        for _, r in known.iterrows():
            label = f"{r.target * 100:.1f}" if not math.isnan(r.target) else r["name"]
            ax.annotate(label, (r.accuracy * 100, r.edp), fontsize=6, xytext=(3, 3), textcoords="offset points")
        published = rows[rows.accuracy.isna() & rows.published_top1.notna()]
        if not published.empty:  # outside the space: at its published ImageNet top-1, hollow, never compared
            ax.plot(published.published_top1 * 100, published.edp, marker=MARKERS[method], linestyle="none",
                    markerfacecolor="none", label=f"{method} (published top-1, not predicted)")
            for _, r in published.iterrows():
                ax.annotate(r["name"], (r.published_top1 * 100, r.edp), fontsize=6, xytext=(3, -8),
                            textcoords="offset points")
    ax.set_yscale("log")
    ax.set_xlabel(f"accuracy (%): {ACCURACY_LABEL}")
    ax.set_ylabel("EDP (energy x cycles), log")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def title(config) -> str:
    """The plot's and tables' title for a trade-off run's ``TradeoffConfig``."""
    return (f"{config.space} under {config.baseline}'s resources: co-design vs references ({config.strategy} "
            f"strategy, {config.budget} designs)")


def write_report(frame: pd.DataFrame, folder: str | Path, title: str, command: str = "") -> list[Path]:
    """``curve.csv`` (every point), ``comparison.csv``, ``tradeoff.md`` and ``tradeoff.png`` in ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    table = comparison(frame)
    points = frame[[c for c in frame.columns if c not in ("subnet", "run")]]
    files = [folder / "curve.csv", folder / "comparison.csv", folder / "tradeoff.md", folder / "tradeoff.png"]
    points.to_csv(files[0], index=False)
    table.to_csv(files[1], index=False)
    md = [f"# {title}", ""] + ([f"`{command}`", ""] if command else []) + [
        f"Accuracy: {ACCURACY_LABEL}. A network counts at a target when its predicted accuracy meets it; networks "
        "outside the space (published ImageNet top-1 only) are listed, never compared. Ratios: the reference's "
        "EDP over co-design's (> 1: co-design is lower).", "",
        "## Per target", "", table.to_markdown(index=False, floatfmt=".4g"), "",
        "## Every point", "", points.to_markdown(index=False, floatfmt=".4g"), ""]
    files[2].write_text("\n".join(md))
    plot(frame, files[3], title)
    return files
