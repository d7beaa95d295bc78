"""Bad input and faults: each one a one-line error (exit code 2, no traceback) that names the file or the
option, the value and what is allowed, and nothing committed lost; Ctrl-C exits with 130, leaving a resumable
run; one process at a time writes a run folder."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from naas.cli import main
from naas.run_store import RunStore

from .test_hardware_search import rows

REPO = Path(__file__).resolve().parents[1]
#: a search of a few seconds' work at most
TINY = ["--baseline", "shidiannao", "--networks", "alexnet", "--mode", "sizing", "--budget", "6", "--popsize", "3",
        "--final-budget", "0", "--warm-start", "baseline", "--quiet"]
GRID = "base: shidiannao\nnetworks: [alexnet]\nmapping: default\nparameters:\n  l2.size: [32 KiB, 64 KiB]\n"


def error_line(capsys) -> str:
    """The one line a failed command wrote on stderr, without its ``naas: error: `` prefix."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("naas: error: "), err
    return err[len("naas: error: "):-1]


def fingerprint(path: Path) -> tuple:
    """Bytes and mtime of a file, and the folder's listing: what "the file was not modified" compares."""
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns, sorted(os.listdir(path.parent))


def naas_process(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "naas", *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A finished tiny search (copy it before changing it)."""
    folder = tmp_path_factory.mktemp("faults") / "run"
    assert main(["search", *TINY, "--out", str(folder)]) == 0
    return folder


def copy_run(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    for f in src.iterdir():
        if f.is_file():
            (dst / f.name).write_bytes(f.read_bytes())
    return dst


# --- 1: --out / --resume naming a file -----------------------------------------------------------------------
@pytest.mark.parametrize("command", ["search", "sweep", "cosearch"])
@pytest.mark.parametrize("option", ["--out", "--resume"])
def test_a_run_folder_that_is_a_file(tmp_path, capsys, command, option):
    target = tmp_path / "x"
    target.write_text("not a folder\n")
    grid = tmp_path / "grid.yaml"
    grid.write_text(GRID)
    before = fingerprint(target)
    extra = {"search": TINY, "sweep": ["--grid", str(grid), "--quiet"], "cosearch": ["--quiet"]}[command]
    assert main([command, *(extra if option == "--out" else ["--quiet"]), option, str(target)]) == 2
    assert error_line(capsys) == f"{option}: '{target}' is a file, not a run folder"
    assert fingerprint(target) == before


def test_a_run_folder_under_a_file(tmp_path, capsys):
    (tmp_path / "x").write_text("")
    assert main(["search", *TINY, "--out", str(tmp_path / "x" / "run")]) == 2
    assert error_line(capsys) == f"--out: cannot create '{tmp_path / 'x' / 'run'}': Not a directory"


# --- 2, 3: a run.sqlite that is not a run store ------------------------------------------------------------
def _damaged(kind: str, folder: Path, tiny_run: Path) -> str:
    """Write a ``run.sqlite`` of this kind into ``folder``; returns what the error says about it."""
    folder.mkdir()
    path = folder / RunStore.FILE
    if kind == "empty":
        path.write_bytes(b"")
        return "(the file is empty)"
    if kind == "garbage":
        path.write_bytes(b"these are not the bytes of a database\n" * 100)
        return "(file is not a database"
    if kind == "truncated":
        data = (tiny_run / RunStore.FILE).read_bytes()
        path.write_bytes(data[:len(data) // 2])
        return "(damaged or not a database): database disk image is malformed"
    db = sqlite3.connect(path)  # "other": an SQLite database, but not naas's
    db.execute("CREATE TABLE people (name TEXT)")
    db.commit()
    db.close()
    return "(an SQLite database without the run store's tables: no meta, designs)"


@pytest.mark.parametrize("kind", ["empty", "garbage", "truncated", "other"])
@pytest.mark.parametrize("command", [["search", "--resume"], ["sweep", "--resume"], ["cosearch", "--resume"],
                                     ["report"]])
def test_a_damaged_run_store_is_refused_and_left_as_it_was(tmp_path, capsys, tiny_run, kind, command):
    folder = tmp_path / "run"
    reason = _damaged(kind, folder, tiny_run)
    path = folder / RunStore.FILE
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))  # an mtime a write would change
    before = fingerprint(path)
    assert main([*command, str(folder), *(["--quiet"] if len(command) == 2 else [])]) == 2
    message = error_line(capsys)
    assert message.startswith(f"{path}: not a naas run store {reason}"), message
    assert fingerprint(path) == before  # not one byte written, no -wal, -shm or .lock left beside it


def test_the_api_refuses_a_damaged_store_with_the_same_message(tmp_path, capsys, tiny_run):
    import naas
    from naas.errors import RunFolderError, RunStoreError

    folder = tmp_path / "run"
    _damaged("truncated", folder, tiny_run)
    before = fingerprint(folder / RunStore.FILE)
    with pytest.raises(RunStoreError) as exc:
        naas.open_run(folder)
    assert isinstance(exc.value, RunFolderError)
    with pytest.raises(RunStoreError):
        naas.search_hardware(out=folder, resume=True)
    assert main(["report", str(folder)]) == 2
    assert error_line(capsys) == str(exc.value)
    assert fingerprint(folder / RunStore.FILE) == before


def test_a_sound_store_is_still_opened(tmp_path, tiny_run):
    import naas

    folder = copy_run(tiny_run, tmp_path / "run")
    run = naas.open_run(folder)
    assert run.kind == "search" and len(run.designs()) == len(rows(folder)) == len(rows(tiny_run))


# --- 4: one writer at a time ---------------------------------------------------------------------------------
HOLD_LOCK = """
import sys, time
from naas.run_folder import RunLock
lock = RunLock(sys.argv[1]).acquire()
print("locked", flush=True)
sys.stdin.read()  # until the test closes stdin
lock.release()
"""


@contextlib.contextmanager
def lock_held_by_another_process(folder: Path):
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(folder)], cwd=REPO, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "locked\n"
        yield proc
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


def test_a_second_writer_is_refused_and_readers_need_no_lock(tmp_path, capsys, tiny_run):
    import naas

    folder = copy_run(tiny_run, tmp_path / "run")
    before = rows(folder)
    with lock_held_by_another_process(folder) as holder:
        assert main(["search", "--resume", str(folder), "--budget", "9", "--quiet"]) == 2
        message = error_line(capsys)
        assert message.startswith(f"{folder} is being written by pid {holder.pid} on host {socket.gethostname()} "
                                  "since ") and message.endswith("; wait for it or stop it"), message
        assert rows(folder) == before
        assert naas.open_run(folder).kind == "search" and len(naas.open_run(folder).designs()) == len(before)
    assert not (folder / ".lock").exists()
    assert main(["search", "--resume", str(folder), "--budget", "9", "--quiet"]) == 0  # the holder is gone
    assert rows(folder)[:len(before)] == before and len(rows(folder)) > len(before)
    assert not (folder / ".lock").exists()


def test_two_resumes_at_once_one_is_refused(tmp_path, tiny_run):
    """Two real ``naas search --resume`` of one run: the later one is refused on one line, the run completes."""
    folder = copy_run(tiny_run, tmp_path / "run")
    with lock_held_by_another_process(folder):  # the first writer, until the second has started and failed
        second = naas_process("search", "--resume", str(folder), "--budget", "12", "--quiet")
        _, err = second.communicate(timeout=120)
    assert second.returncode == 2 and err.count("\n") == 1 and "is being written by pid" in err, err
    assert "Traceback" not in err and "IntegrityError" not in err


def test_a_stale_lock_is_taken_over(tmp_path, tiny_run):
    folder = copy_run(tiny_run, tmp_path / "run")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (folder / ".lock").write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(),
                                              "since": "2020-01-01 00:00:00 +0000"}) + "\n")
    assert main(["search", "--resume", str(folder), "--budget", "9", "--quiet"]) == 0
    assert len(rows(folder)) > len(rows(tiny_run)) and not (folder / ".lock").exists()


def test_the_lock_is_released_on_every_exit_path(tmp_path, tiny_run):
    from naas.hardware_search import run_hardware_search
    from naas.run_folder import RunLock

    folder = copy_run(tiny_run, tmp_path / "run")

    def stop(p):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_hardware_search(None, folder, resume=True, budget=9, progress=stop)
    assert not (folder / ".lock").exists()
    with pytest.raises(ValueError):  # refused after the lock was taken: a budget below the run's
        run_hardware_search(None, folder, resume=True, budget=3)
    RunLock(folder).acquire().release()  # nobody holds it
    _damaged("garbage", tmp_path / "bad", tiny_run)
    with pytest.raises(ValueError):
        run_hardware_search(None, tmp_path / "bad", resume=True)
    assert sorted(os.listdir(tmp_path / "bad")) == [RunStore.FILE]


# --- 5: Ctrl-C -----------------------------------------------------------------------------------------------
def test_ctrl_c_keeps_what_was_committed_and_resume_completes_it(tmp_path):
    """SIGINT to the whole process group (a terminal's Ctrl-C), workers too: exit 130, one line, no traceback
    from any process; resuming ends with the rows of an uninterrupted run."""
    from naas.hardware_search import HardwareSearchConfig, run_hardware_search

    cfg = HardwareSearchConfig(baseline="shidiannao", networks=("alexnet",), mode="full", budget=30, popsize=3,
                               inner_budget=100, final_budget=0, warm_start="baseline", seed=1)
    run = tmp_path / "run"
    args = ["--baseline", "shidiannao", "--networks", "alexnet", "--mode", "full", "--budget", "30", "--popsize",
            "3", "--inner-budget", "100", "--final-budget", "0", "--warm-start", "baseline", "--seed", "1"]
    # SIGINT as a terminal's: the process (a group of its own) starts with Python's default handler even
    # where this one runs with SIGINT ignored (a shell's background job)
    proc = naas_process("search", *args, "--out", str(run), "--quiet", "--workers", "2", start_new_session=True,
                        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline, committed = time.time() + 120, []
    while time.time() < deadline and proc.poll() is None:
        if (run / RunStore.FILE).exists():
            try:
                committed = rows(run)
            except sqlite3.OperationalError:
                committed = []
            if len([r for r in committed if r[1] >= 0]) >= 4:
                break
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (len(committed), err)
    assert err == f"naas: interrupted: 'naas search --resume {run}' continues\n"
    before = rows(run)
    assert len(before) < 1 + 30, "the run finished before it could be interrupted"
    assert not (run / ".lock").exists()

    assert main(["search", "--resume", str(run), "--quiet"]) == 0
    run_hardware_search(cfg, tmp_path / "whole")
    after = rows(run)
    assert after[:len(before)] == before and after == rows(tmp_path / "whole")


@pytest.fixture
def python_sigint():
    """Python's own SIGINT handler (KeyboardInterrupt), also where this process runs with SIGINT ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_in_a_sweep_leaves_it_resumable(tmp_path, capsys, monkeypatch, python_sigint):
    import naas.cli

    grid = tmp_path / "grid.yaml"
    grid.write_text(GRID.replace("[32 KiB, 64 KiB]", "[16 KiB, 32 KiB, 64 KiB, 128 KiB]"))
    run = tmp_path / "run"

    @contextlib.contextmanager
    def ctrl_c_after_two(quiet):
        def progress(p):
            if p.evaluated == 2:
                signal.raise_signal(signal.SIGINT)  # a real SIGINT: its handler raises KeyboardInterrupt
        yield progress

    monkeypatch.setattr(naas.cli, "progress_bars", ctrl_c_after_two)
    assert main(["sweep", "--grid", str(grid), "--out", str(run)]) == 130
    assert capsys.readouterr().err == f"naas: interrupted: 'naas sweep --resume {run}' continues\n"
    assert len(rows(run)) == 1 + 2 and not (run / ".lock").exists()
    monkeypatch.undo()
    assert main(["sweep", "--resume", str(run), "--quiet"]) == 0
    assert len(rows(run)) == 1 + 4


def test_ctrl_c_in_evaluate(capsys, monkeypatch, python_sigint):
    import naas.api

    def interrupted(*a, **k):
        signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(naas.api, "evaluate", interrupted)
    assert main(["evaluate", "-n", "alexnet"]) == 130
    assert capsys.readouterr().err == "naas: interrupted\n"


# --- 6: an unwritable --csv ----------------------------------------------------------------------------------
def test_an_unwritable_csv_names_the_reason(tmp_path, capsys):
    for path, reason in [("/nonexistent/dir/x.csv", "No such file or directory"), (str(tmp_path), "Is a directory")]:
        assert main(["evaluate", "-n", "alexnet", "--mapping", "default", "--format", "json", "--csv", path]) == 2
        assert error_line(capsys) == f"--csv: cannot write '{path}': {reason}"


# --- 7: population sizes and network lists -------------------------------------------------------------------
@pytest.mark.parametrize("args, message", [
    (["search", "--popsize", "0"], "--popsize: 0 (allowed: an integer >= 2"),
    (["search", "--popsize", "-3"], "--popsize: -3 (allowed: an integer >= 2"),
    (["search", "--networks", ""], "--networks: '' names no network (allowed: alexnet, "),
    (["cosearch", "--popsize", "0"], "--popsize: 0 (allowed: an integer >= 2"),
    (["cosearch", "--popsize", "-3"], "--popsize: -3 (allowed: an integer >= 2"),
    (["sweep", "--networks", ""], "--networks: '' names no network (allowed: alexnet, "),
    (["sweep", "--networks", ","], "--networks: "),
])
def test_bad_population_and_networks(tmp_path, capsys, args, message):
    grid = tmp_path / "grid.yaml"
    grid.write_text(GRID)
    extra = ["--grid", str(grid)] if args[0] == "sweep" else []
    assert main([*args, *extra, "--out", str(tmp_path / "run"), "--quiet"]) == 2
    line = error_line(capsys)
    assert line.startswith(message) and ("names no network" in line or "--popsize" in line), line
    assert not (tmp_path / "run").exists()


# --- 8: one exception type per family, the CLI's message ----------------------------------------------------
def test_input_errors_name_the_families():
    import naas.errors as errors

    for name in ("AcceleratorSpecError", "HierarchySpecError", "LayerSpecError", "MappingSpecError", "UnitError",
                 "PredictorError", "SweepSpecError", "ExecutorError", "TimeloopFormatError", "TimeloopFileError",
                 "NaasError", "ConfigError", "RunFolderError", "RunStoreError"):
        family = getattr(errors, name)
        assert family in errors.INPUT_ERRORS and issubclass(family, ValueError), name
    from cost_model.accelerator import AcceleratorSpecError
    from naas.sweep_spec import SweepSpecError

    assert errors.AcceleratorSpecError is AcceleratorSpecError and errors.SweepSpecError is SweepSpecError


def test_the_api_raises_the_family_with_the_clis_message(tmp_path, capsys):
    import naas
    from naas.errors import AcceleratorSpecError, ConfigError, LayerSpecError, RunFolderError, SweepSpecError, \
        cli_message

    (tmp_path / "afile").write_text("")
    bad_grid = tmp_path / "bad.yaml"
    bad_grid.write_text(GRID.replace("l2.size", "l2.sise"))
    cases = [
        (lambda: naas.evaluate("alexnet", "eyeris"), AcceleratorSpecError, ["evaluate", "-a", "eyeris", "-n", "alexnet"]),
        (lambda: naas.network("alexnet", input_size=8), LayerSpecError, ["evaluate", "-n", "alexnet", "--input-size", "8"]),
        (lambda: naas.search_hardware(out=tmp_path / "s", baseline="shidiannao", popsize=0), ConfigError,
         ["search", "--baseline", "shidiannao", "--popsize", "0", "--out", str(tmp_path / "s")]),
        (lambda: naas.search_hardware(out=tmp_path / "afile"), RunFolderError,
         ["search", "--out", str(tmp_path / "afile")]),
        (lambda: naas.sweep(bad_grid, out=tmp_path / "w"), SweepSpecError,
         ["sweep", "--grid", str(bad_grid), "--out", str(tmp_path / "w")]),
    ]
    for call, family, argv in cases:
        with pytest.raises(family) as exc:
            call()
        assert main([*argv, "--quiet"] if argv[0] != "evaluate" else argv) == 2
        assert error_line(capsys) == cli_message(exc.value), argv


def test_a_timeloop_file_error_is_one_line(tmp_path, capsys):
    arch = tmp_path / "arch.yaml"
    arch.write_text("foo: 1\n")
    problem = tmp_path / "problem.yaml"
    problem.write_text("problem: {}\n")
    assert main(["timeloop", "evaluate", str(problem), str(problem), "--arch", str(arch)]) == 2
    assert error_line(capsys).startswith(f"{arch}: architecture: missing (")


# --- 9: argparse's errors, on one line ----------------------------------------------------------------------
@pytest.mark.parametrize("argv, start", [
    (["search", "--budget", "x"], "naas search: error: argument --budget: invalid int value: 'x'"),
    (["search", "--bogus"], "naas search: error: unrecognized arguments: --bogus"),
    (["cosearch", "--networks", "alexnet"], "naas cosearch: error: unrecognized arguments: --networks alexnet"),
    (["serch"], "naas: error: argument command: invalid choice: 'serch'"),
    (["report"], "naas report: error: the following arguments are required: RUN"),
    (["timeloop", "evaluate"], "naas timeloop evaluate: error: the following arguments are required: problem"),
    ([], "naas: error: the following arguments are required: command"),
])
def test_usage_errors_are_one_line(capsys, argv, start):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(start) and err.count("\n") == 1 and "usage:" not in err, err
    assert err.endswith(" --help')\n")


def test_help_is_argparses(capsys, monkeypatch):
    import argparse

    import naas.cli

    def help_text(argv):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 0
        return capsys.readouterr().out

    ours = [help_text(a) for a in (["--help"], ["search", "--help"], ["timeloop", "export", "--help"])]
    monkeypatch.setattr(naas.cli, "OneLineParser", argparse.ArgumentParser)
    assert ours == [help_text(a) for a in (["--help"], ["search", "--help"], ["timeloop", "export", "--help"])]
    assert ours[1].startswith("usage: naas search") and "--popsize" in ours[1]
