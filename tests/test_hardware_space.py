"""The hardware search space: every decoded design respects the baseline's caps and the paper's steps."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cost_model.accelerator import builtin_accelerators, load_accelerator
from naas.hardware_space import ARRAY_STEP, BUFFER_STEP, MODES, HardwareSpace

BASELINES = {name: load_accelerator(name) for name in builtin_accelerators()}


@pytest.mark.parametrize("axis_dims,encoding", ((1, "importance"), (3, "importance"), (3, "index")))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(BASELINES))
@settings(max_examples=40, deadline=None)
@given(genome=st.lists(st.floats(-0.5, 1.5), min_size=15, max_size=15))
def test_decoded_designs_respect_caps_and_steps(name, mode, axis_dims, encoding, genome):
    base = BASELINES[name]
    hs = HardwareSpace(base, mode, axis_dims=axis_dims, encoding=encoding)
    acc = hs.decode(np.array(genome[:hs.size]))
    assert hs.fits(acc)
    assert acc.num_pes <= base.num_pes and acc.onchip_bytes <= base.onchip_bytes
    assert all(a.size % ARRAY_STEP == 0 for a in acc.array) and 1 <= len(acc.array) <= 3
    assert acc.l1_bytes % BUFFER_STEP == 0 and acc.l2_bytes % BUFFER_STEP == 0
    assert acc.l1_words >= 3
    assert (acc.l2_bandwidth, acc.dram_bandwidth, acc.word_bits, acc.energy) == \
        (base.l2_bandwidth, base.dram_bandwidth, base.word_bits, base.energy)
    if mode == "sizing":
        assert [a.dims for a in acc.array] == [a.dims for a in base.array]
    else:
        dims = [d for a in acc.array for d in a.dims]
        assert len(dims) == len(set(dims))
        assert all(1 <= len(a.dims) <= axis_dims for a in acc.array)
        if axis_dims == 1:
            assert len(dims) == len(acc.array)


@pytest.mark.parametrize("encoding", ("importance", "index"))
@pytest.mark.parametrize("axis_dims", (1, 2, 3))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(BASELINES))
def test_baseline_warm_start_round_trips(name, mode, axis_dims, encoding):
    hs = HardwareSpace(BASELINES[name], mode, axis_dims=axis_dims, encoding=encoding)
    b = hs.baseline_in_space()
    assert hs.fits(b)
    again = hs.decode(hs.encode(b))
    assert (again.array, again.l1_bytes, again.l2_bytes) == (b.array, b.l1_bytes, b.l2_bytes)
    base = BASELINES[name]
    assert b.num_pes == base.num_pes  # every built-in array is on the even-size grid
    assert [a.size for a in b.array] == [a.size for a in base.array]
    if mode == "sizing" or axis_dims == 3:  # the baseline's connectivity is in the space
        assert [a.dims for a in b.array] == [a.dims for a in base.array]
    else:
        assert [a.dims for a in b.array] == [a.dims[:axis_dims] for a in base.array]


def test_eyeriss_replicated_rows_are_in_the_space():
    """Eyeriss's rows take R, then replicate over C and K: the warm start keeps all three."""
    hs = HardwareSpace(BASELINES["eyeriss"], "full")
    assert [a.dims for a in hs.baseline_in_space().array] == [("R", "C", "K"), ("Y",)]
    assert [a.dims for a in HardwareSpace(BASELINES["eyeriss"], "full", axis_dims=1)
            .baseline_in_space().array] == [("R",), ("Y",)]


def test_extra_dims_by_importance():
    hs = HardwareSpace(BASELINES["eyeriss"], "connectivity")
    g = np.full(hs.size, 0.5)
    g[hs.G_AXES] = 0.5  # two axes
    g[hs.G_IMPORTANCE:hs.G_IMPORTANCE + 6] = [0.8, 0.1, 0.9, 0.2, 0.3, 0.0]  # K C Y X R S
    g[hs.G_EXTRA:hs.G_EXTRA + 3] = [0.9, 0.4, 0.9]  # axis 0: two extra dims, axis 1: one, (axis 2 absent)
    assert [a.dims for a in hs.decode(g).array] == [("Y", "R", "X"), ("K", "C")]
    g[hs.G_EXTRA:hs.G_EXTRA + 3] = 0.0
    assert [a.dims for a in hs.decode(g).array] == [("Y",), ("K",)]


def test_bad_axis_dims():
    with pytest.raises(ValueError, match="axis_dims: 4"):
        HardwareSpace(BASELINES["eyeriss"], "full", axis_dims=4)


def test_connectivity_by_importance():
    hs = HardwareSpace(BASELINES["eyeriss"], "connectivity")
    g = np.full(hs.size, 0.5)
    g[hs.G_AXES] = 0.9  # three axes
    g[hs.G_IMPORTANCE:hs.G_IMPORTANCE + 6] = [0.8, 0.1, 0.9, 0.2, 0.3, 0.0]  # K C Y X R S
    assert [a.dims[0] for a in hs.decode(g).array] == ["Y", "K", "R"]
    g[hs.G_IMPORTANCE:hs.G_IMPORTANCE + 6] = 0.5  # ties: dims in listed order
    assert [a.dims[0] for a in hs.decode(g).array] == ["K", "C", "Y"]
    g[hs.G_AXES] = 0.0
    assert len(hs.decode(g).array) == 1


def test_bad_mode():
    with pytest.raises(ValueError, match="mode: 'both'"):
        HardwareSpace(BASELINES["eyeriss"], "both")


def test_sizing_genome_has_only_live_genes():
    """Sizing keeps the baseline's axes: a size gene per baseline axis, L1 and L2, nothing else."""
    for name, base in BASELINES.items():
        hs = HardwareSpace(base, "sizing")
        assert hs.size == len(base.array) + 2, name
        g = hs.encode(base)
        for i in range(hs.size):  # every gene changes the design
            moved = g.copy()
            moved[i] = 0.0 if g[i] > 0.5 else 1.0
            a, b = hs.decode(g), hs.decode(moved)
            assert (a.array, a.l1_bytes, a.l2_bytes) != (b.array, b.l1_bytes, b.l2_bytes), (name, i)


@pytest.mark.parametrize("name", sorted(BASELINES))
@settings(max_examples=60, deadline=None)
@given(genome=st.lists(st.floats(0.0, 1.0), min_size=15, max_size=15))
def test_index_and_importance_encodings_span_the_same_designs(name, genome):
    """Any design the importance genome reaches, an index genome reaches too, and back."""
    imp = HardwareSpace(BASELINES[name], "full", encoding="importance")
    idx = HardwareSpace(BASELINES[name], "full", encoding="index")
    assert idx.size == imp.size - 5
    for src, dst in ((imp, idx), (idx, imp)):
        acc = src.decode(np.array(genome[:src.size]))
        again = dst.decode(dst.encode(acc))
        assert (again.array, again.l1_bytes, again.l2_bytes) == (acc.array, acc.l1_bytes, acc.l2_bytes)


def test_connectivity_by_index():
    """One gene: the order of (K, C, Y, X, R, S) among the 720 permutations, lexicographic."""
    hs = HardwareSpace(BASELINES["eyeriss"], "connectivity", encoding="index", axis_dims=1)
    g = np.full(hs.size, 0.5)
    g[hs.G_AXES] = 0.9  # three axes
    g[hs.G_IMPORTANCE] = 0.0  # permutation 0: K C Y X R S
    assert [a.dims[0] for a in hs.decode(g).array] == ["K", "C", "Y"]
    g[hs.G_IMPORTANCE] = 1.0  # the last: S R X Y C K
    assert [a.dims[0] for a in hs.decode(g).array] == ["S", "R", "X"]
    g[hs.G_IMPORTANCE] = (120 * 2 + 0.5) / 720  # the first order that starts with Y (index 240)
    assert [a.dims[0] for a in hs.decode(g).array] == ["Y", "K", "C"]
    with pytest.raises(ValueError, match="encoding: 'gray'"):
        HardwareSpace(BASELINES["eyeriss"], "full", encoding="gray")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(BASELINES))
def test_dataflow_starts_are_distinct_designs_within_the_caps(name, mode):
    base = BASELINES[name]
    hs = HardwareSpace(base, mode)
    only = hs.start_genomes("baseline")
    starts = hs.start_genomes("dataflows")
    assert len(only) == 1 and np.array_equal(only[0], starts[0])
    assert np.array_equal(starts[0], hs.encode(hs.baseline_in_space()))
    designs = [hs.decode(g) for g in starts]
    assert all(hs.fits(d) for d in designs)
    assert all(d.num_pes == base.num_pes for d in designs)  # every built-in #PEs splits on the even grid
    keys = {(d.array, d.l1_bytes, d.l2_bytes) for d in designs}
    assert len(keys) == len(designs)
    connectivities = {tuple(a.dims for a in d.array) for d in designs}
    if mode == "sizing":
        assert connectivities == {tuple(a.dims for a in base.array)}
    else:  # the baseline's and every built-in accelerator's connectivity, each at several L1 sizes
        assert connectivities == {tuple(a.dims for a in BASELINES[n].array) for n in BASELINES}
    for d in designs[1:]:  # the other starts give L2 all the on-chip memory L1 leaves (to the step)
        assert base.onchip_bytes - d.onchip_bytes < BUFFER_STEP
    assert len({d.l1_bytes for d in designs}) >= 2


def test_bad_warm_start():
    with pytest.raises(ValueError, match="warm_start: 'best'"):
        HardwareSpace(BASELINES["eyeriss"], "full").start_genomes("best")
