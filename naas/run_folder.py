"""Opening a run folder for a search, a co-search or a sweep: one path for new runs and resumed ones.

A new run stores its kind, its whole config and the software it runs with before anything is computed; a
resumed run reads its config back from the folder (never from code defaults), is refused if it is another
kind of run, and may only extend its budget.

One process at a time writes a run folder: it holds the folder's lock (``RunLock``, ``RUN/.lock``) from before
it looks at the run store until the store is closed, and a second writer is refused with one line naming the
first. Readers (``naas report``, ``naas.open_run``) take no lock.
"""
from __future__ import annotations

import errno
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any, Callable

from .environment import check_resumed_environment, record_environment
from .errors import ConfigError, RunFolderError
from .run_store import RunStore

try:
    import fcntl
except ImportError:  # pragma: no cover - not a POSIX system: runs are not locked
    fcntl = None

log = logging.getLogger(__name__)


class RunLock:
    """The write lock of a run folder: an exclusive ``flock`` on ``RUN/.lock``, which names its holder.

    The kernel holds an ``flock`` for the open file, not for the file's contents: it is released whenever the
    holder's process ends, however it ends (an exception, Ctrl-C, SIGKILL, a power cut), so a lock can never
    be left behind by a dead process. ``.lock`` left by a killed writer (its pid, host and start time) is
    stale: the next writer simply locks it and writes its own. The file is removed on release, while still
    locked; a writer that locked a file since removed (its inode no longer the path's) locks the new one.
    Linux takes ``flock`` on NFS as a whole-file POSIX lock, so it holds across hosts there too.
    """

    FILE = ".lock"

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.path = self.folder / self.FILE
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        """Lock the folder (which must exist), or refuse (``RunFolderError``) if a live process holds it."""
        if fcntl is None:  # pragma: no cover
            log.warning("%s: run folders cannot be locked on this system; run one writer at a time", self.folder)
            return self
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise RunFolderError(f"{self.folder}: cannot be written (creating its {self.FILE}: "
                                     f"{exc.strerror or exc})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise RunFolderError(f"{self.folder} is being written by {self._holder()}; wait for it or stop "
                                     "it") from None
            except OSError as exc:  # pragma: no cover - a file system without flock (rare on Linux)
                os.close(fd)
                if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                    raise
                log.warning("%s: cannot lock %s (%s); run one writer at a time", self.folder, self.FILE,
                            exc.strerror or exc)
                return self
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # locked a file its holder removed on release: lock the current one
        stale = _read_holder(fd)
        if stale:
            log.info("%s: took over the lock left by %s", self.folder, _describe(stale))
        me = {"pid": os.getpid(), "host": socket.gethostname(),
              "since": time.strftime("%Y-%m-%d %H:%M:%S %z"), "started": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(me) + "\n").encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Unlock (and remove) the lock file; a no-op if not held."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # while still locked: see the class docstring
        finally:
            os.close(fd)  # releases the flock

    def _holder(self) -> str:
        """Who holds the lock, as its file says (read again briefly if it is being written)."""
        info: dict = {}
        for _ in range(20):
            try:
                with open(self.path, "rb") as f:
                    info = _read_holder(f.fileno())
            except FileNotFoundError:
                info = {}
            if info:
                break
            time.sleep(0.01)
        return _describe(info) if info else "another process"

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read_holder(fd: int) -> dict:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (ValueError, OSError):
        return {}
    return info if isinstance(info, dict) else {}


def _describe(info: dict) -> str:
    return f"pid {info.get('pid', '?')} on host {info.get('host', '?')} since {info.get('since', '?')}"


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
    option = "resume" if resume else "out"
    if folder.exists() and not folder.is_dir():
        raise RunFolderError(f"{option}: {str(folder)!r} is a file, not a run folder", option)
    exists = (folder / RunStore.FILE).exists()
    if resume and not exists:
        raise RunFolderError(f"resume: {str(folder)!r} holds no run to resume", "resume")
    if not resume and exists:
        raise _holds_a_run(folder)
    if not resume:
        if config is None:
            raise ConfigError("config: a new run needs one", "config")
        if check_new is not None:
            check_new(config)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunFolderError(f"out: cannot create {str(folder)!r}: {exc.strerror or exc}", "out") from None
    lock = RunLock(folder).acquire()
    try:
        if not resume and (folder / RunStore.FILE).exists():  # another process started a run there meanwhile
            raise _holds_a_run(folder)
        store = RunStore(folder)
    except BaseException:
        lock.release()
        raise
    store.lock = lock  # released when the store closes
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


def _holds_a_run(folder: Path) -> RunFolderError:
    return RunFolderError(f"out: {str(folder)!r} already holds a run (resume it, or choose another folder)", "out")


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


class OtherSettingsError(RunFolderError):
    """A run folder holds a run of other settings than the ones asked for."""

    def __init__(self, message: str):
        super().__init__(message, "runs")


def run_state(folder: str | Path, config: Any, complete: Callable[[RunStore], bool] | None = None) -> str:
    """What a run of ``config`` in ``folder`` needs: 'absent' (start it), 'complete' (reuse it), 'incomplete'
    (resume it) or 'extend' (resume it to ``config.budget`` designs).

    'complete': ``config.budget`` designs committed and, if given, ``complete(store)`` true (e.g. its final
    re-costing stored). Raises ``OtherSettingsError`` if the folder holds a run whose stored config differs from
    ``config`` in anything but a smaller budget.
    """
    folder = Path(folder)
    if not (folder / RunStore.FILE).is_file():
        return "absent"
    with RunStore(folder, create=False) as store:
        stored, count = store.get_meta("config"), store.count()
        done = complete(store) if complete is not None else True
    try:
        have = type(config).from_dict(stored).to_dict()
    except Exception as exc:  # another kind of run, or one stored by other code
        raise OtherSettingsError(f"{str(folder)!r} holds a run that is not a {type(config).__name__} this code "
                                 f"reads ({exc}); pass another runs folder") from None
    want = config.to_dict()
    diff = sorted(k for k in have.keys() | want.keys() if k != "budget" and have.get(k) != want.get(k))
    if diff or have["budget"] > want["budget"]:
        what = ", ".join(f"{k}: {have.get(k)!r} there, {want.get(k)!r} asked for" for k in diff or ["budget"])
        raise OtherSettingsError(f"{str(folder)!r} holds a run of other settings ({what}); pass another runs "
                                 "folder (or the settings it was made with)")
    if have["budget"] < want["budget"]:
        return "extend"
    return "complete" if count >= want["budget"] and done else "incomplete"
