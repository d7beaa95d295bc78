"""Where the experiments keep their search runs: one run folder per search, named by what it is, outside git.

A script that searches takes the folder its runs go in (``--runs``, by default ``runs/<experiment>``, which
git ignores) and writes only its tables and figures under ``experiments/results``. A run already in its
folder is reused: as it is if complete, finished if it was interrupted, extended if more designs are asked
for. A run there of other settings is refused rather than reused as if it were the one asked for: the
settings of all runs in one ``--runs`` folder are the ones that made them, so other settings take another
folder.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from naas.run_folder import OtherSettingsError, run_state  # noqa: F401  (re-exported)

RUNS = Path("runs")  # git-ignored (.gitignore), relative to where the scripts run: the repository root


def default_runs(experiment: str, quick: bool = False) -> Path:
    """``runs/<experiment>``, or ``runs/<experiment>/quick`` for a smoke run (so it never meets a full one)."""
    return RUNS / experiment / "quick" if quick else RUNS / experiment


def check_runs(folders_and_configs) -> None:
    """``run_state`` of each (folder, config), before any search starts: SystemExit on the first refused."""
    for folder, config in folders_and_configs:
        try:
            run_state(folder, config)
        except OtherSettingsError as exc:
            raise SystemExit(f"--runs: {exc}") from None


def run_or_reuse(folder: str | Path, config: Any, run: Callable[..., Any]) -> float:
    """Start, finish, extend or reuse the run of ``config`` in ``folder``; the wall seconds spent now.

    ``run(config, folder, resume=False)`` starts a run, ``run(None, folder, resume=True, budget=N)`` resumes
    one (``naas.hardware_search.run_hardware_search``, ``naas.joint_search.run_cosearch``).
    """
    state = run_state(folder, config)
    if state == "complete":
        return 0.0
    t = time.perf_counter()
    if state == "absent":
        run(config, folder, resume=False)
    else:
        run(None, folder, resume=True, budget=config.budget)
    return time.perf_counter() - t
