"""The run store: a SQLite database in a run folder holding every evaluated design as it finishes.

Each design (with its per-network results) is committed in one transaction, so a crash loses nothing that
was committed; the optimizer state is checkpointed after every generation, in its own transaction.

An existing ``run.sqlite`` is checked read-only before anything writes to it (``check_store``): a file that is
empty, damaged or another database is refused with one line and left exactly as it was.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import quote

import numpy as np

from .errors import RunStoreError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS designs (
    id INTEGER PRIMARY KEY,
    generation INTEGER NOT NULL,          -- -1: the baseline
    genome_key TEXT NOT NULL UNIQUE,      -- exact float64 bytes, hex
    genome TEXT NOT NULL,                 -- JSON list
    accelerator TEXT NOT NULL,            -- YAML-ready JSON of the accelerator
    fitness REAL,                         -- geomean network EDP; NULL = some layer could not be mapped
    error TEXT,
    seconds REAL NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS network_results (
    design_id INTEGER NOT NULL REFERENCES designs(id),
    network TEXT NOT NULL,
    energy REAL, cycles REAL, edp REAL, utilization REAL,
    energy_mac REAL, energy_l1 REAL, energy_noc REAL, energy_l2 REAL, energy_dram REAL,
    PRIMARY KEY (design_id, network)
);
CREATE TABLE IF NOT EXISTS subnets (      -- co-search: every subnet evaluated on a design
    design_id INTEGER NOT NULL REFERENCES designs(id),
    rank INTEGER NOT NULL,                -- 0 = the design's best (lowest EDP) subnet
    config TEXT NOT NULL,                 -- JSON subnet configuration
    accuracy REAL NOT NULL,               -- predicted top-1 on OFA's holdout
    macs REAL NOT NULL, energy REAL, cycles REAL, edp REAL,
    PRIMARY KEY (design_id, rank)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    generation INTEGER PRIMARY KEY,
    state BLOB NOT NULL,
    created REAL NOT NULL
);
"""
RESULT_FIELDS = ("energy", "cycles", "edp", "utilization", "energy_mac", "energy_l1", "energy_noc",
                 "energy_l2", "energy_dram")


class DesignRecord(TypedDict):
    """One committed design, as the queries return it."""

    id: int
    generation: int  # -1: the reference (baseline or sweep base), 0: warm starts / sweep points, 1..: CMA-ES
    genome: list[float]
    accelerator: dict  # the design's YAML form (designs.design_from_dict reads it)
    fitness: float | None  # None: some layer (or every subnet) could not be mapped
    error: str | None


class SubnetRecord(TypedDict):
    """One (design, subnet) pair a co-search costed."""

    config: dict
    accuracy: float
    macs: float
    energy: float | None
    cycles: float | None
    edp: float | None


def genome_key(genome: np.ndarray) -> str:
    return np.ascontiguousarray(genome, dtype=np.float64).tobytes().hex()


class NoRunError(FileNotFoundError):
    """A folder opened for reading holds no run store."""


#: the first 16 bytes of every SQLite 3 database file
SQLITE_MAGIC = b"SQLite format 3\x00"
#: the tables every naas run store has had since its first version (the others are added when missing)
CORE_TABLES = ("meta", "designs")
#: resolved path -> file signature of stores checked sound in this process (a store is checked again when it
#: changes on disk, e.g. when another process wrote it)
_CHECKED: dict[str, tuple] = {}


def _signature(path: Path) -> tuple:
    st = os.stat(path)
    wal = Path(f"{path}-wal")
    w = os.stat(wal) if wal.exists() else None
    return st.st_ino, st.st_size, st.st_mtime_ns, (w.st_size, w.st_mtime_ns) if w else None


def check_store(path: str | Path) -> None:
    """Refuse (``RunStoreError``) a ``run.sqlite`` that is not a naas run store, without writing to it.

    The file is read through a read-only connection (``mode=ro``): its bytes and mtime stay as they were,
    whatever it holds. An empty file, one that is not an SQLite database, a damaged one (``PRAGMA
    quick_check``) and a database without the run store's tables are refused, the message naming the file.
    """
    path = Path(path)
    key = str(path.resolve())
    what = f"{path}: not a naas run store"
    if not path.is_file():
        raise RunStoreError(f"{what} (not a file)")
    try:
        signature = _signature(path)
        if _CHECKED.get(key) == signature:
            return
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise RunStoreError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if signature[1] == 0:
        raise RunStoreError(f"{what} (the file is empty)")
    if head != SQLITE_MAGIC:
        raise RunStoreError(f"{what} (file is not a database: it does not start as an SQLite file does)")
    # a read-only connection to a WAL database creates its -wal and -shm files if they are missing: those
    # it created are removed again if the file is refused
    extra = [Path(f"{path}{suffix}") for suffix in ("-wal", "-shm")]
    created = [p for p in extra if not p.exists()]
    try:
        try:
            db = sqlite3.connect(f"file:{quote(key)}?mode=ro", uri=True)
            try:
                problems = [r[0] for r in db.execute("PRAGMA quick_check(3)")]
                tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            finally:
                db.close()
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                raise RunStoreError(f"{path}: cannot be read now ({exc}); try again") from None
            if "unable to open" in str(exc):
                raise RunStoreError(f"{path}: cannot be opened for reading ({exc}: is its folder read-only?)"
                                    ) from None
            raise RunStoreError(f"{what} (damaged or not a database): {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise RunStoreError(f"{what} (damaged or not a database): {exc}") from None
        if problems != ["ok"]:
            raise RunStoreError(f"{what} (damaged: PRAGMA quick_check says {'; '.join(problems)})")
        missing = [t for t in CORE_TABLES if t not in tables]
        if missing:
            raise RunStoreError(f"{what} (an SQLite database without the run store's tables: no "
                                f"{', '.join(missing)})")
    except RunStoreError:
        for p in created:
            if p.exists() and (p.suffix != ".sqlite-wal" or p.stat().st_size == 0):
                p.unlink(missing_ok=True)
        raise
    _CHECKED[key] = _signature(path)


class RunStore:
    """Designs, per-network results and optimizer checkpoints of one search run."""

    FILE = "run.sqlite"

    def __init__(self, folder: str | Path, create: bool = True):
        """Open the run in ``folder``; ``create=False`` refuses a folder without one instead of starting it.

        An existing ``run.sqlite`` is checked read-only first (``check_store``: ``RunStoreError`` if it is not
        a run store, the file untouched); only a sound one is opened for writing.
        """
        self.folder = Path(folder)
        self.path = self.folder / self.FILE
        #: the run folder's write lock (``naas.run_folder.RunLock``) when this store was opened to write a
        #: run: released when the store closes
        self.lock = None
        if self.folder.exists() and not self.folder.is_dir():
            if not create:
                raise NoRunError(f"{str(self.folder)!r} is a file, not a run folder")
            raise RunStoreError(f"{str(self.folder)!r} is a file, not a run folder")
        if not create and not self.path.is_file():
            raise NoRunError(f"{str(self.folder)!r} holds no run (no {self.FILE})")
        if self.path.exists():
            check_store(self.path)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None)  # explicit transactions below
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        try:
            self.db.close()
        finally:
            lock, self.lock = self.lock, None
            if lock is not None:
                lock.release()

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def kind(self) -> str:
        """'search', 'cosearch' or 'sweep' (runs store it when created)."""
        return self.get_meta("kind") or "search"

    # --- configuration ----------------------------------------------------------------------------
    def set_meta(self, key: str, value: Any) -> None:
        with self._tx():
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    # --- designs ----------------------------------------------------------------------------------
    def add_design(self, generation: int, genome: np.ndarray, accelerator: dict, fitness: float | None,
                   results: dict[str, dict[str, float]], error: str | None, seconds: float,
                   subnets: list[dict] | None = None) -> int:
        """Commit one evaluated design, its per-network results and subnets atomically; returns its id."""
        with self._tx():
            cur = self.db.execute(
                "INSERT INTO designs (generation, genome_key, genome, accelerator, fitness, error, seconds,"
                " created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (generation, genome_key(genome), json.dumps(np.asarray(genome, dtype=float).tolist()),
                 json.dumps(accelerator), fitness, error, seconds, time.time()))
            design_id = int(cur.lastrowid)
            for net, r in results.items():
                self.db.execute(
                    f"INSERT INTO network_results VALUES (?, ?, {', '.join('?' * len(RESULT_FIELDS))})",
                    (design_id, net, *(r[f] for f in RESULT_FIELDS)))
            for rank, sub in enumerate(subnets or ()):
                self.db.execute("INSERT INTO subnets VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                (design_id, rank, json.dumps(sub["config"]), sub["accuracy"], sub["macs"],
                                 sub.get("energy"), sub.get("cycles"), sub.get("edp")))
        return design_id

    def find(self, genome: np.ndarray) -> tuple[int, float | None] | None:
        """(id, fitness) of a design with exactly this genome, if one was committed."""
        row = self.db.execute("SELECT id, fitness FROM designs WHERE genome_key = ?",
                              (genome_key(genome),)).fetchone()
        return None if row is None else (int(row[0]), row[1])

    def count(self, include_baseline: bool = False) -> int:
        where = "" if include_baseline else " WHERE generation >= 0"
        return int(self.db.execute(f"SELECT COUNT(*) FROM designs{where}").fetchone()[0])

    def best(self, before_generation: int | None = None) -> DesignRecord | None:
        """The lowest-fitness searched design (of the generations before ``before_generation`` if given)."""
        limit = "" if before_generation is None else f" AND generation < {int(before_generation)}"
        rows = self._records(f"WHERE generation >= 0 AND fitness IS NOT NULL{limit} ORDER BY fitness, id LIMIT 1")
        return rows[0] if rows else None

    def design(self, design_id: int) -> DesignRecord | None:
        """One design's record (id, generation, genome, accelerator, fitness, error), or None."""
        rows = self._records("WHERE id = ?", (int(design_id),))
        return rows[0] if rows else None

    def baseline(self) -> DesignRecord | None:
        """The reference design (generation -1: the baseline or the sweep's base), or None."""
        rows = self._records("WHERE generation = -1 ORDER BY id LIMIT 1")
        return rows[0] if rows else None

    def records(self) -> list[DesignRecord]:
        """Every design's record, the reference first, then in evaluation order."""
        return self._records("ORDER BY generation, id")

    def _records(self, where: str, params: tuple = ()) -> list[DesignRecord]:
        rows = self.db.execute(f"SELECT id, generation, genome, accelerator, fitness, error FROM designs {where}",
                               params).fetchall()
        return [DesignRecord(id=r[0], generation=r[1], genome=json.loads(r[2]), accelerator=json.loads(r[3]),
                             fitness=r[4], error=r[5]) for r in rows]

    def best_subnet_configs(self, before_generation: int, count: int) -> list[dict]:
        """Co-search: the best subnets' configs of the ``count`` best designs of generations before this one."""
        rows = self.db.execute(
            "SELECT s.config FROM designs d JOIN subnets s ON s.design_id = d.id WHERE d.generation >= 0 AND "
            "d.generation < ? AND d.fitness IS NOT NULL AND s.rank = 0 ORDER BY d.fitness, d.id LIMIT ?",
            (int(before_generation), int(count))).fetchall()
        return [json.loads(r[0]) for r in rows]

    def target_subnet_configs(self, network: str, rank: int, before_generation: int, count: int) -> list[dict]:
        """Trade-off runs: the rank-``rank`` subnets' configs of the ``count`` designs of generations before this
        one with the lowest ``network`` EDP (each accuracy target is one such 'network', its subnet one rank)."""
        rows = self.db.execute(
            "SELECT s.config FROM designs d JOIN network_results r ON r.design_id = d.id AND r.network = ? "
            "JOIN subnets s ON s.design_id = d.id AND s.rank = ? WHERE d.generation >= 0 AND d.generation < ? "
            "AND r.edp IS NOT NULL ORDER BY r.edp, d.id LIMIT ?",
            (network, int(rank), int(before_generation), int(count))).fetchall()
        return [json.loads(r[0]) for r in rows]

    def designs(self):
        """All designs, one row each, in evaluation order (pandas DataFrame)."""
        import pandas as pd
        return pd.read_sql_query("SELECT id, generation, genome_key, fitness, error, seconds FROM designs "
                                 "ORDER BY id", self.db)

    def network_results(self):
        import pandas as pd
        return pd.read_sql_query("SELECT * FROM network_results ORDER BY design_id, network", self.db)

    def subnets(self):
        """Every (design, subnet) pair a co-search evaluated (pandas DataFrame)."""
        import pandas as pd
        return pd.read_sql_query("SELECT * FROM subnets ORDER BY design_id, rank", self.db)

    def design_subnets(self, design_id: int) -> list[SubnetRecord]:
        rows = self.db.execute("SELECT config, accuracy, macs, energy, cycles, edp FROM subnets "
                               "WHERE design_id = ? ORDER BY rank", (design_id,)).fetchall()
        return [SubnetRecord(config=json.loads(r[0]), accuracy=r[1], macs=r[2], energy=r[3], cycles=r[4], edp=r[5])
                for r in rows]

    # --- checkpoints ------------------------------------------------------------------------------
    def save_checkpoint(self, generation: int, state: bytes) -> None:
        with self._tx():
            self.db.execute("INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?)",
                            (generation, state, time.time()))

    def latest_checkpoint(self) -> tuple[int, bytes] | None:
        row = self.db.execute("SELECT generation, state FROM checkpoints ORDER BY generation DESC LIMIT 1"
                              ).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    # --- helpers ----------------------------------------------------------------------------------
    def _tx(self):
        db = self.db

        class _Tx:
            def __enter__(self):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, exc_type, exc, tb):
                db.execute("COMMIT" if exc_type is None else "ROLLBACK")
                return False
        return _Tx()
