"""Opening a run folder for a search, a co-search or a sweep: one path for new runs and resumed ones.

A new run stores its kind, its whole config and the software it runs with before anything is computed; a
resumed run reads its config back from the folder (never from code defaults), is refused if it is another
kind of run, and may only extend its budget.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

from .environment import check_resumed_environment, record_environment
from .errors import ConfigError, RunFolderError
from .run_store import RunStore

log = logging.getLogger(__name__)

#: what ``naas`` command runs each kind (a run's ``kind`` meta)
KINDS = {"search": "naas search", "cosearch": "naas cosearch", "sweep": "naas sweep"}


def open_run_folder(folder: str | Path, kind: str, config: Any, resume: bool,
                    from_dict: Callable[[dict], Any], budget: int | None = None,
                    check_new: Callable[[Any], None] | None = None) -> tuple[RunStore, Any]:
    """(store, config) of a new run in ``folder`` (``config`` stored) or of the run there (``resume``).

    ``check_new(config)`` runs before a new folder is created (e.g. loading the baseline), so a bad config
    leaves nothing behind; ``budget`` (with ``resume``) extends the stored run to that many designs.
    """
    folder = Path(folder)
    exists = (folder / RunStore.FILE).exists()
    if resume and not exists:
        raise RunFolderError(f"resume: {str(folder)!r} holds no run to resume", "resume")
    if not resume and exists:
        raise RunFolderError(f"out: {str(folder)!r} already holds a run (resume it, or choose another folder)",
                             "out")
    if not resume:
        if config is None:
            raise ConfigError("config: a new run needs one", "config")
        if check_new is not None:
            check_new(config)
    store = RunStore(folder)
    try:
        if resume:
            if store.kind != kind:
                raise RunFolderError(f"resume: {str(folder)!r} holds a {store.kind} run, not a {kind} (resume it "
                                     f"with {KINDS.get(store.kind, store.kind)})", "resume")
            config = from_dict(store.get_meta("config"))
            check_resumed_environment(store)
            config = extend_budget(store, config, budget)
            log.info("resuming the %s run in %s (%d designs committed)", kind, folder, store.count())
        else:
            store.set_meta("kind", kind)
            store.set_meta("config", config.to_dict())
            record_environment(store)
            log.info("started a %s run in %s", kind, folder)
    except BaseException:
        store.close()
        raise
    return store, config


def extend_budget(store: RunStore, config, budget: int | None):
    """``config`` with its design budget raised to ``budget`` for a resumed run (stored in the run), or as is.

    The outer loop does not depend on the budget until it stops, so a run extended from B to N designs ends
    exactly where an uninterrupted run with N would. Refuses (``RunFolderError``) a budget below the stored one.
    """
    from dataclasses import replace

    if budget is None or budget == config.budget:
        return config
    if budget < config.budget:
        raise RunFolderError(f"budget: {budget} is below the {config.budget} designs {str(store.folder)!r} "
                             "was run with (a resumed run can only be extended)", "budget")
    config = replace(config, budget=budget)
    store.set_meta("config", config.to_dict())
    return config
