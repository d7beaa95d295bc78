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

from naas.run_store import RunStore

RUNS = Path("runs")  # git-ignored (.gitignore), relative to where the scripts run: the repository root


def default_runs(experiment: str, quick: bool = False) -> Path:
    """``runs/<experiment>``, or ``runs/<experiment>/quick`` for a smoke run (so it never meets a full one)."""
    return RUNS / experiment / "quick" if quick else RUNS / experiment


class OtherSettingsError(ValueError):
    """A run folder holds a run of other settings than the ones asked for."""


def run_state(folder: str | Path, config: Any) -> str:
    """What a run of ``config`` in ``folder`` needs: 'absent' (start it), 'complete' (reuse it), 'incomplete'
    (resume it) or 'extend' (resume it to ``config.budget`` designs).

    Raises ``OtherSettingsError`` if the folder holds a run whose stored config differs from ``config`` in
    anything but a smaller budget.
    """
    folder = Path(folder)
    if not (folder / RunStore.FILE).is_file():
        return "absent"
    with RunStore(folder, create=False) as store:
        stored, count = store.get_meta("config"), store.count()
    try:
        have = type(config).from_dict(stored).to_dict()
    except Exception as exc:  # another kind of run, or one stored by older code
        raise OtherSettingsError(f"{str(folder)!r} holds a run that is not a {type(config).__name__} this code "
                                 f"reads ({exc}); pass another --runs folder") from None
    want = config.to_dict()
    diff = sorted(k for k in have.keys() | want.keys() if k != "budget" and have.get(k) != want.get(k))
    if diff or have["budget"] > want["budget"]:
        what = ", ".join(f"{k}: {have.get(k)!r} there, {want.get(k)!r} asked for" for k in diff or ["budget"])
        raise OtherSettingsError(f"{str(folder)!r} holds a run of other settings ({what}); pass another --runs "
                                 "folder (or the settings it was made with)")
    if have["budget"] < want["budget"]:
        return "extend"
    return "complete" if count >= want["budget"] else "incomplete"


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
