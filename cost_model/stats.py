"""Layout of the float64 result vector the cost kernels write, one per layer-mapping evaluation."""
from __future__ import annotations

LEVELS = ("l1", "l2", "dram")
TENSOR_KEYS = ("W", "I", "O")
ACTIONS = ("reads", "fills", "updates")

_SCALARS = (
    "status",  # 0 = valid; otherwise see cost_model.status
    "macs",  # useful MACs of the layer (grouped convs: all groups)
    "padded_macs",  # MACs of the iteration space the factors cover (ceil padding included)
    "active_pes",  # PEs the spatial factors use
    "cycles",  # max(compute, l2, dram) cycles
    "compute_cycles",
    "l2_cycles",
    "dram_cycles",
    "utilization",  # macs / (all PEs * cycles)
    "energy",
    "energy_mac",
    "energy_l1",
    "energy_noc",
    "energy_l2",
    "energy_dram",
    "edp",  # energy * cycles
    "noc_words",  # words delivered to PEs plus words PEs send up
)
_COUNTS = tuple(f"{lvl}_{t}_{a}" for lvl in LEVELS for t in TENSOR_KEYS for a in ACTIONS)
_TILES = ("tile_l1_W", "tile_l1_I", "tile_l1_O", "tile_l2_W", "tile_l2_I", "tile_l2_O")

STAT_NAMES: tuple[str, ...] = _SCALARS + _COUNTS + _TILES
STAT_INDEX = {name: i for i, name in enumerate(STAT_NAMES)}
NUM_STATS = len(STAT_NAMES)
COUNT_NAMES = _COUNTS
TILE_NAMES = _TILES

# Module-level integer constants so the Numba kernel can index the vector by name.
(ST_STATUS, ST_MACS, ST_PADDED_MACS, ST_ACTIVE_PES, ST_CYCLES, ST_COMPUTE_CYCLES, ST_L2_CYCLES,
 ST_DRAM_CYCLES, ST_UTILIZATION, ST_ENERGY, ST_E_MAC, ST_E_L1, ST_E_NOC, ST_E_L2, ST_E_DRAM, ST_EDP,
 ST_NOC_WORDS) = range(len(_SCALARS))
ST_COUNTS = len(_SCALARS)  # + level*9 + tensor*3 + action
ST_TILES = ST_COUNTS + len(_COUNTS)  # + level*3 + tensor (levels l1, l2)


def count_index(level: int, tensor: int, action: int) -> int:
    return ST_COUNTS + level * 9 + tensor * 3 + action
