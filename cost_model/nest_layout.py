"""Array layouts shared by the general-hierarchy kernel and its Python side (SPEC §10).

A hierarchy of L storage levels (level 0 = DRAM, level L-1 = the innermost, next to the MAC) is handed to
the kernel as ``hw`` float64[L, HWF] (one row per level, columns below) and ``glob`` float64[GLOB]. A
mapping is ``tf`` int64[L, 7] (temporal factors of each level), ``sf`` int64[L, 7] (spatial factors of the
fan-out below each level) and ``orders`` int64[L, 7] (each level's loop order, outermost first). The
result is float64[NS + L * PER]: the scalars below, then one block per level.
"""
from __future__ import annotations

from .stats import ACTIONS, TENSOR_KEYS

MAX_LEVELS = 8

# --- hw columns, per level --------------------------------------------------------------------------
H_CAP = 0  # shared capacity per instance in bits (inf = unlimited); ignored when H_PARTED
H_PARTED = 1  # 1 = capacity given per tensor (H_PART..+2)
H_PART = 2  # per-tensor capacity in bits, W, I, O
H_KEEP = 5  # 1/0 per tensor W, I, O
H_BW = 8  # shared, read, write bandwidth per instance in words/cycle of the level's word (shared > 0 wins)
H_E_READ = 11  # energy of one read of one word of each tensor W, I, O
H_E_WRITE = 14  # energy of one write (fill or update) of one word of each tensor
H_HOP = 17  # energy per word crossing the fan-out below this level
H_AXIS_OF_DIM = 18  # 7 values: the fan-out axis (below this level) that parallelizes each dim, -1 = none
H_AXIS_SIZE = 25  # 3 values: sizes of the fan-out axes (1 = absent)
H_WORD_RATIO = 28  # per tensor: tensor bits / the level's word bits (bandwidth is in level words)
H_BITS = 31  # per tensor: bits of one word of the tensor (capacity)
HWF = 34

# --- glob ---------------------------------------------------------------------------------------------
G_MAC_ENERGY = 0
G_MAC_UNITS = 1  # MACs the hardware has (product of all fan-out sizes)
GLOB = 2

# --- result scalars -------------------------------------------------------------------------------------
SCALARS = ("status", "status_level", "status_detail", "macs", "padded_macs", "active_macs", "cycles",
           "compute_cycles", "utilization", "energy", "energy_mac", "edp")
(R_STATUS, R_STATUS_LEVEL, R_STATUS_DETAIL, R_MACS, R_PADDED_MACS, R_ACTIVE, R_CYCLES, R_COMPUTE,
 R_UTIL, R_ENERGY, R_E_MAC, R_EDP) = range(len(SCALARS))
NS = len(SCALARS)

# --- result block per level ------------------------------------------------------------------------------
LEVEL_FIELDS = (("cycles", "energy", "energy_network", "instances")
                + tuple(f"{t}_{a}" for t in TENSOR_KEYS for a in ACTIONS)
                + tuple(f"tile_{t}" for t in TENSOR_KEYS))
P_CYCLES, P_ENERGY, P_ENERGY_NET, P_INSTANCES = range(4)
P_COUNTS = 4  # + tensor * 3 + action
P_TILES = P_COUNTS + 9  # + tensor
PER = len(LEVEL_FIELDS)

# --- status kinds (R_STATUS); R_STATUS_LEVEL names the level, R_STATUS_DETAIL the dim / tensor / axis --
OK = 0
BAD_ORDER = 1  # detail: -
BAD_FACTOR = 2  # detail: dim
NOT_COVERED = 3  # detail: dim
OVER_COVERED = 4  # detail: dim
SPATIAL_NO_AXIS = 5  # detail: dim (the fan-out below the level has no axis for it)
SPATIAL_TOO_LARGE = 6  # detail: axis of the fan-out below the level
CAPACITY = 7  # detail: tensor 0..2, or 3 = the shared capacity


def result_size(levels: int) -> int:
    return NS + levels * PER


def level_index(level: int, field: int) -> int:
    return NS + level * PER + field
