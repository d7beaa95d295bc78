"""Fuzz tests (hypothesis): bad input never gives a traceback, and the kernels never see an unvalidated value.

Inputs are valid documents mutated (the built-in accelerators and hierarchies, the shipped sweep file and
``tests/test_sweep.py``'s, the Timeloop files in ``tests/data``) and random command lines built from the real
option names of each subcommand (``naas.cli.build_parser``). Each runs the command line in process
(``naas.cli.main``): it must exit 0 or 2 (argparse's ``SystemExit`` too), print no traceback, and on exit 2
print one line on stderr. Meanwhile the Numba kernels' entry points are wrapped (``checked_kernels``) by a
checker asserting the arrays they get are finite where they must be and that sizes, factors and loop orders
are what the kernels assume.

The runs are derandomized (the same examples on every run); ``NAAS_FUZZ_SCALE=10`` runs ten times as many
examples and ``NAAS_FUZZ_RANDOM=1`` draws new ones (to hunt for bugs locally).
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import io
import itertools
import logging
import math
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cost_model.evaluate as evaluate_module
import cost_model.nest_evaluate as nest_evaluate_module
import mapping.batch_search as batch_search_module
import mapping.default_kernel as default_kernel_module
from cost_model import accelerator as acc_module
from cost_model import nest_layout as nl
from cost_model.accelerator import MAX_AXIS_SIZE, builtin_accelerators, load_accelerator
from cost_model.hierarchy_yaml import HIERARCHY_DIR, load_hierarchy
from naas.cli import build_parser, main
from naas.designs import design_to_dict

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
ACCELERATOR_FILES = sorted((REPO / "cost_model" / "accelerators").glob("*.yaml"))
HIERARCHY_FILES = sorted(HIERARCHY_DIR.glob("*.yaml"))
SWEEP_FILE = REPO / "experiments" / "sweeps" / "eyeriss.yaml"
TL_PROBLEM, TL_MAPPING = DATA / "timeloop" / "conv3x3.yaml", DATA / "timeloop" / "eyeriss_mapping.yaml"
TL_ARCH = {k: DATA / "timeloop_arch" / f"{k}.yaml" for k in ("arch", "problem", "mapping", "ert")}
TL_ARCH_V04 = DATA / "timeloop_arch_v04" / "arch.yaml"

_SCALE = float(os.environ.get("NAAS_FUZZ_SCALE", "1"))


def fuzz(examples: int):
    """A fuzzer's settings: ``examples`` examples (times $NAAS_FUZZ_SCALE), the same ones on every run."""
    return settings(max_examples=max(1, int(examples * _SCALE)), deadline=None, database=None,
                    derandomize=not os.environ.get("NAAS_FUZZ_RANDOM"), print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.filter_too_much, HealthCheck.data_too_large,
                                           HealthCheck.large_base_example])


# --- the kernels' inputs ----------------------------------------------------------------------------------
#: what the checker found wrong during the current command (cleared by ``run_cli``)
KERNEL_PROBLEMS: list[str] = []
#: the padded iteration space (times strides and repeats) the kernels' int64 counts may reach
MAX_ITERATIONS = 2.0 ** 62


def _integral(a) -> bool:
    a = np.asarray(a, dtype=np.float64)
    return bool(np.all(np.isfinite(a)) and np.all(a == np.round(a)))


def _problem(ok: bool, message: str) -> None:
    if not ok:
        KERNEL_PROBLEMS.append(message)


def _check_layer(layer) -> None:
    _problem(isinstance(layer, np.ndarray) and layer.dtype == np.int64 and layer.shape == (11,),
             f"layer: {getattr(layer, 'dtype', type(layer))} {getattr(layer, 'shape', '')} (want int64[11])")
    layer = np.asarray(layer)
    _problem(bool(np.all(layer[:9] >= 1)), f"layer: bounds / strides {layer[:9].tolist()} (want >= 1)")
    _problem(layer[9] in (0, 1) and layer[10] >= 1, f"layer: depthwise {layer[9]}, repeats {layer[10]}")


def _check_mapping(layer, factors, orders, levels: int, what: str) -> None:
    """factors [..., rows, 7] >= 1 (temporal and spatial, all rows), orders [..., levels, 7] permutations,
    and the padded iteration space small enough for the kernels' int64 counts."""
    for name, a in (("factors", factors), ("orders", orders)):
        _problem(isinstance(a, np.ndarray) and a.dtype == np.int64, f"{what} {name}: {getattr(a, 'dtype', a)}")
    f, o = np.asarray(factors), np.asarray(orders)
    _problem(f.shape[-1] == 7 and o.shape[-2:] == (levels, 7), f"{what}: shapes {f.shape}, {o.shape}")
    _problem(bool(np.all(f >= 1)), f"{what}: a factor < 1: {f[f < 1][:5].tolist()}")
    perms = np.sort(o.reshape(-1, 7), axis=1)
    _problem(bool(np.all(perms == np.arange(7))), f"{what}: a loop order that is not a permutation of 0..6")
    if f.size and np.all(f >= 1):
        logs = np.log2(f.astype(np.float64)).reshape(-1, f.shape[-2] * 7).sum(axis=1)
        extra = math.log2(float(layer[7]) * float(layer[8]) * float(max(layer[10], 1)))
        worst = float(logs.max()) + extra
        _problem(worst < math.log2(MAX_ITERATIONS),
                 f"{what}: padded iteration space 2^{worst:.1f} (more than the int64 counts hold)")


def _check_hw(hw) -> None:
    """The 3-level kernel's hardware vector (``Accelerator.hw_vector``)."""
    A = acc_module
    _problem(isinstance(hw, np.ndarray) and hw.dtype == np.float64 and hw.shape == (A.HW_SIZE,),
             f"hw: {getattr(hw, 'dtype', hw)} {getattr(hw, 'shape', '')}")
    hw = np.asarray(hw, dtype=np.float64)
    unlimited = {A.HW_L2_BW + 1, A.HW_L2_BW + 2, A.HW_DRAM_BW + 1, A.HW_DRAM_BW + 2}  # read / write may be inf
    for i, v in enumerate(hw):
        _problem(not math.isnan(v) and (math.isfinite(v) or (i in unlimited and v > 0)), f"hw[{i}] = {v}")
    l1, part, l2 = hw[A.HW_L1_WORDS], hw[A.HW_L1_PART:A.HW_L1_PART + 3], hw[A.HW_L2_WORDS]
    _problem(_integral([l1, l2]) and l1 >= 3 and l2 >= 3, f"hw: L1 {l1} / L2 {l2} words (want integers >= 3)")
    _problem(_integral(part) and (np.all(part == 0) or (np.all(part >= 1) and part.sum() <= l1)),
             f"hw: L1 partition {part.tolist()} words of {l1}")
    for base in (A.HW_L2_BW, A.HW_DRAM_BW):
        shared, read, write = hw[base:base + 3]
        _problem(shared >= 0 and read > 0 and write > 0, f"hw: bandwidth {hw[base:base + 3].tolist()}")
    sizes = hw[A.HW_AXIS_SIZE:A.HW_AXIS_SIZE + 3]
    _problem(_integral(sizes) and np.all((sizes >= 1) & (sizes <= MAX_AXIS_SIZE)), f"hw: axis sizes {sizes}")
    _problem(_integral(hw[A.HW_NUM_PES]) and hw[A.HW_NUM_PES] == np.prod(sizes),
             f"hw: {hw[A.HW_NUM_PES]} PEs, axes {sizes.tolist()}")
    energy = hw[A.HW_ENERGY:A.HW_ENERGY + 8]
    _problem(bool(np.all(energy >= 0)), f"hw: energies {energy.tolist()} (want >= 0)")
    axis = hw[A.HW_AXIS_OF_DIM:A.HW_AXIS_OF_DIM + 7]
    _problem(bool(np.all(np.isin(axis, (-1, 0, 1, 2)))), f"hw: axis of each dim {axis.tolist()}")


def _check_nest_hw(hw, glob) -> None:
    """The hierarchy kernel's hw float64[L, HWF] and glob float64[GLOB] (``Hierarchy.hw_array``)."""
    _problem(isinstance(hw, np.ndarray) and hw.dtype == np.float64 and hw.ndim == 2 and hw.shape[1] == nl.HWF
             and 1 <= hw.shape[0] <= nl.MAX_LEVELS, f"nest hw: {getattr(hw, 'shape', hw)}")
    _problem(isinstance(glob, np.ndarray) and glob.shape == (nl.GLOB,), f"glob: {getattr(glob, 'shape', glob)}")
    hw, glob = np.asarray(hw, dtype=np.float64), np.asarray(glob, dtype=np.float64)
    _problem(not np.isnan(hw).any(), f"nest hw: nan at {np.argwhere(np.isnan(hw))[:3].tolist()}")
    macs = 1.0
    for lv, row in enumerate(hw):
        at = f"nest hw level {lv}"
        _problem(row[nl.H_CAP] > 0, f"{at}: capacity {row[nl.H_CAP]} bits")
        _problem(row[nl.H_PARTED] in (0, 1), f"{at}: parted {row[nl.H_PARTED]}")
        keep = row[nl.H_KEEP:nl.H_KEEP + 3]
        _problem(bool(np.all(np.isin(keep, (0, 1)))), f"{at}: keeps {keep.tolist()}")
        if row[nl.H_PARTED]:
            part = row[nl.H_PART:nl.H_PART + 3]
            _problem(bool(np.all(part[keep == 1] > 0)), f"{at}: partition {part.tolist()} bits")
        shared, read, write = row[nl.H_BW:nl.H_BW + 3]
        _problem(math.isfinite(shared) and shared >= 0 and read > 0 and write > 0,
                 f"{at}: bandwidth {row[nl.H_BW:nl.H_BW + 3].tolist()}")
        energies = np.r_[row[nl.H_E_READ:nl.H_E_READ + 3], row[nl.H_E_WRITE:nl.H_E_WRITE + 3], row[nl.H_HOP]]
        _problem(bool(np.all(np.isfinite(energies) & (energies >= 0))), f"{at}: energies {energies.tolist()}")
        axis = row[nl.H_AXIS_OF_DIM:nl.H_AXIS_OF_DIM + 7]
        _problem(bool(np.all(np.isin(axis, (-1, 0, 1, 2)))), f"{at}: axis of each dim {axis.tolist()}")
        sizes = row[nl.H_AXIS_SIZE:nl.H_AXIS_SIZE + 3]
        _problem(_integral(sizes) and np.all((sizes >= 1) & (sizes <= MAX_AXIS_SIZE)), f"{at}: axes {sizes}")
        macs *= float(np.prod(sizes))
        ratio, bits = row[nl.H_WORD_RATIO:nl.H_WORD_RATIO + 3], row[nl.H_BITS:nl.H_BITS + 3]
        _problem(bool(np.all(np.isfinite(ratio) & (ratio > 0))), f"{at}: word ratios {ratio.tolist()}")
        _problem(_integral(bits) and np.all((bits >= 1) & (bits <= 64)), f"{at}: tensor bits {bits.tolist()}")
    _problem(math.isfinite(glob[nl.G_MAC_ENERGY]) and glob[nl.G_MAC_ENERGY] >= 0, f"glob: MAC energy {glob}")
    _problem(_integral(glob[nl.G_MAC_UNITS]) and glob[nl.G_MAC_UNITS] == macs,
             f"glob: {glob[nl.G_MAC_UNITS]} MAC units, fan-outs multiply to {macs}")


#: calls of each wrapped kernel (``test_the_checker_sees_every_kernel``)
KERNEL_CALLS: dict[str, int] = {}


def _checked(kernel, check):
    def wrapper(*args):
        KERNEL_CALLS[kernel.__name__] = KERNEL_CALLS.get(kernel.__name__, 0) + 1
        try:
            check(*args)
        except Exception as exc:  # a checker that cannot even read the arrays: that is a finding too
            KERNEL_PROBLEMS.append(f"checker failed on the arguments: {type(exc).__name__}: {exc}")
        return kernel(*args)
    wrapper.__wrapped__ = kernel
    return wrapper


def _check_3level(layer, hw, factors, orders, out):
    _check_layer(layer)
    _check_hw(hw)
    _check_mapping(layer, factors, orders, 3, "3-level mapping")
    _problem(np.asarray(factors).shape[-2] == 4, f"3-level factors: shape {np.asarray(factors).shape}")


def _check_nest(layer, hw, glob, tf, sf, orders, out, work=None):
    _check_layer(layer)
    _check_nest_hw(hw, glob)
    levels = np.asarray(hw).shape[0]
    tf, sf = np.asarray(tf), np.asarray(sf)
    _problem(tf.shape == sf.shape and tf.shape[-2:] == (levels, 7), f"nest factors: {tf.shape}, {sf.shape}")
    both = np.concatenate([tf, sf], axis=-2) if tf.shape == sf.shape else tf
    _check_mapping(layer, both, orders, levels, "nest mapping")


def _check_rows(layers, hws, owner, factors, orders, *rest):
    """Many problems' rows (``evaluate_rows``, ``grow_default_rows``): each owner's rows as ``_check_3level``."""
    owner = np.asarray(owner)
    for p in np.unique(owner):
        _check_3level(layers[p], hws[p], np.asarray(factors)[owner == p], np.asarray(orders)[owner == p], None)


@pytest.fixture(scope="module", autouse=True)
def checked_kernels():
    """Every call of the Numba kernels from the Python side goes through the checkers above."""
    with pytest.MonkeyPatch.context() as mp:
        for module, name, check in ((evaluate_module, "evaluate_into", _check_3level),
                                    (evaluate_module, "evaluate_batch", _check_3level),
                                    (nest_evaluate_module, "nest_evaluate_into", _check_nest),
                                    (nest_evaluate_module, "nest_evaluate_batch", _check_nest),
                                    (batch_search_module, "evaluate_rows", _check_rows),
                                    (default_kernel_module, "grow_default_rows", _check_rows)):
            mp.setattr(module, name, _checked(getattr(module, name), check))
        yield


def test_the_checker_sees_every_kernel(scratch):
    """The wrapped kernels are the ones the command line calls, and the checker refuses what they must not get."""
    KERNEL_CALLS.clear()
    run_cli(["evaluate", "-n", "alexnet", "--mapping", "default"], scratch)
    run_cli(["evaluate", "-n", "alexnet", "--budget", "3"], scratch)
    run_cli(["evaluate", "-n", "alexnet", "--budget", "3", "--method", "random"], scratch)
    run_cli(["evaluate", "-a", "eyeriss-hier", "-n", "squeezenet", "--budget", "3"], scratch)
    run_cli(["timeloop", "evaluate", TL_ARCH["problem"], TL_ARCH["mapping"], "--arch", TL_ARCH["arch"]], scratch)
    assert set(KERNEL_CALLS) == {"evaluate_into", "evaluate_batch", "nest_evaluate_into", "nest_evaluate_batch",
                                 "evaluate_rows", "grow_default_rows"}
    from cost_model.evaluate import evaluate_stats
    from cost_model.stats import NUM_STATS
    from mapping.default_mapping import default_mapping
    from nn_space.layers import ConvLayer

    layer, acc = ConvLayer(k=8, c=8, y=4, x=4, r=3, s=3), load_accelerator("eyeriss")
    mapping = default_mapping(layer, acc)
    KERNEL_PROBLEMS.clear()
    evaluate_stats(layer, acc, mapping)
    assert KERNEL_PROBLEMS == []
    hw = acc.hw_vector.copy()
    hw[acc_module.HW_L2_WORDS], hw[acc_module.HW_ENERGY] = math.nan, -1.0
    evaluate_module.evaluate_into(evaluate_module.layer_array(layer), hw, mapping.factor_array,
                                  np.zeros((3, 7), dtype=np.int64), np.empty(NUM_STATS))
    assert any("hw[4] = nan" in p for p in KERNEL_PROBLEMS) and any("energies" in p for p in KERNEL_PROBLEMS)
    assert any("not a permutation" in p for p in KERNEL_PROBLEMS)
    KERNEL_PROBLEMS.clear()


# --- running the command line -------------------------------------------------------------------------------
_ERROR_LINE = re.compile(r"naas( [a-z]+)*: error: ")


def run_cli(argv, cwd: Path) -> tuple[int, str, str]:
    """``naas ARGV`` in process, in ``cwd`` (relative paths land there): (exit code, stdout, stderr), checked:
    exit 0 or 2, no traceback, the kernels saw only checked values, and exit 2 is one line on stderr."""
    argv = [str(a) for a in argv]
    out, err = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    before = list(root.handlers)
    ours = [h for h in before if getattr(h, "_naas", False)]  # naas's stderr handler, if a test made one
    streams = [h.setStream(err) for h in ours]
    here = os.getcwd()
    KERNEL_PROBLEMS.clear()
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse: --help (0) and usage errors (2)
                code = exc.code
    finally:
        os.chdir(here)
        for h, s in zip(ours, streams):
            h.setStream(s)
        for h in root.handlers[:]:  # one main() made (bound to our StringIO): the next one makes its own
            if h not in before:
                root.removeHandler(h)
    stdout, stderr = out.getvalue(), err.getvalue()
    shown = f"naas {' '.join(argv)}\nexit {code!r}\nstdout: {stdout[-2000:]}\nstderr: {stderr[-3000:]}"
    assert "Traceback" not in stdout + stderr, shown
    assert code in (0, 2), shown
    assert not KERNEL_PROBLEMS, f"{shown}\nkernel arguments: {KERNEL_PROBLEMS[:5]}"
    if code == 2:
        lines = re.split(r"\r\n|\r|\n", stderr)[:-1]  # the line breaks of a terminal
        assert stderr.endswith("\n") and lines, shown
        if argv[0] == "evaluate" and len(lines) > 1:
            # layers that cannot be mapped: one line per distinct layer shape (the rest is costed on stdout)
            assert all(line.startswith("naas: error: ") for line in lines), shown
        else:
            assert len(lines) == 1, shown
        assert _ERROR_LINE.match(lines[0]), shown
    return code, stdout, stderr


_NAMES = itertools.count()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """Where the fuzzers write their files, and the command lines' working directory."""
    return tmp_path_factory.mktemp("fuzz")


def fresh(scratch: Path, stem: str) -> Path:
    """A path in ``scratch`` no example used before."""
    return scratch / f"{stem}{next(_NAMES)}"


# --- mutating documents --------------------------------------------------------------------------------------
def _load(path: Path):
    return yaml.safe_load(path.read_text())


def _all_keys(docs) -> list:
    keys: set = set()

    def walk(d):
        if isinstance(d, dict):
            for k, v in d.items():
                if isinstance(k, str):
                    keys.add(k)
                walk(v)
        elif isinstance(d, list):
            for v in d:
                walk(v)
    for d in docs:
        walk(d)
    return sorted(keys)


SPECIAL_SCALARS = [
    0, 1, -1, 2, 3, 7, 16, 64, 10 ** 30, -(10 ** 30), 2 ** 63, 2 ** 64 + 1, (1 << 24) + 1, 1 << 20, 123456789,
    1.5, 0.5, 0.0, -0.0, -2.5, 1e-300, 5e-324, 1e300, 1.7976931348623157e308, math.inf, -math.inf, math.nan,
    True, False, None,
    "", " ", "64 KiB", "1e11", "1e-5", "1 MiB", "520 B", "12 words", "0 words", "-3 words", "1e400 B", "64 kB",
    "unlimited", "inf", "-inf", "nan", ".nan", "-1 KiB", "0 B", "0.5 B", "1 parsec", "200 MHz", "0 Hz",
    "-5 GHz", "inf Hz", "1e30 Hz", "4 words/cycle", "8 B/cycle", "x", "é", "💥", "R", "C", "K", "Y", "M", "P",
    "Q", "N", "S", "X", "G", "Y'", "[", "{", ":", "- ", "eyeriss", "eyeriss-hier", "shidiannao", "resnet50",
    "alexnet", "sram", "spad", "dram", "weights", "inputs", "outputs", "Weights", "Inputs", "Outputs",
    "row-stationary", "weight-stationary", "timeloop-eyeriss-65nm", "grid", "random", "search", "default",
    "temporal", "spatial", "bypass", "datatype", "DRAM", "GlobalBuffer", "RegisterFile", "C=1 M=2", "C0 M2",
    "CMRSNPQ", "QPNMSRC", "CC", "from", "to", "factor", "step", "unit", "KiB", "\t", "a\nb", "\u2028",
]
SCALARS = st.one_of(st.sampled_from(SPECIAL_SCALARS), st.integers(), st.floats(),
                    st.text(max_size=6), st.integers(-3, 40))


def values(keys: list) -> st.SearchStrategy:
    """Any YAML value: scalars, lists and mappings of them (keys from ``keys`` or random)."""
    key = st.one_of(st.sampled_from(keys), st.text(max_size=5), st.integers(-2, 3), st.booleans(), st.none())
    return st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(key, inner, max_size=3), max_leaves=8)


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, prefix + (i,))


def _get(doc, path):
    for step in path:
        doc = doc[step]
    return doc


def _set(doc, path, value):
    if not path:
        return value
    _get(doc, path[:-1])[path[-1]] = value
    return doc


@st.composite
def mutated(draw, bases: list, keys: list, max_mutations: int = 3):
    """A deep copy of one of ``bases`` with 1 to ``max_mutations`` changes: a value replaced, a key deleted, an
    unknown (or known) key added, a value copied from elsewhere in the document, a value nested deep."""
    doc = copy.deepcopy(draw(st.sampled_from(bases)))
    value = values(keys)
    for _ in range(draw(st.integers(1, max_mutations))):
        paths = list(_paths(doc))
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["replace"] * 5 + ["delete"] * 2 + ["add"] * 2 + ["copy", "nest"]))
        if op == "replace":
            doc = _set(doc, path, draw(value))
        elif op == "delete" and path:
            parent = _get(doc, path[:-1])
            del parent[path[-1]]
        elif op == "add":
            node = _get(doc, path)
            if isinstance(node, dict):
                node[draw(st.one_of(st.sampled_from(keys), st.text(max_size=8)))] = draw(value)
            elif isinstance(node, list):
                node.insert(draw(st.integers(0, len(node))), draw(value))
        elif op == "copy":
            doc = _set(doc, path, copy.deepcopy(_get(doc, draw(st.sampled_from(paths)))))
        elif op == "nest":
            node = _get(doc, path)
            for _ in range(draw(st.sampled_from([2, 5, 40, 99, 101, 300]))):
                node = [node] if draw(st.booleans()) else {"a": node}
            doc = _set(doc, path, node)
    return doc


class _TagLoader(yaml.SafeLoader):
    """Reads Timeloop v0.4's tagged nodes (``!Component``) as mappings holding their tag under ``TAG``."""


class _TagDumper(yaml.SafeDumper):
    """Writes a mapping holding a ``TAG`` back as a tagged node."""


TAG = "__yaml_tag__"
_TagLoader.add_multi_constructor("!", lambda loader, suffix, node: {
    TAG: "!" + suffix, **loader.construct_mapping(node, deep=True)})


def _represent_dict(dumper, data):
    tag = data.get(TAG)
    if isinstance(tag, str) and tag.startswith("!"):
        return dumper.represent_mapping(tag, {k: v for k, v in data.items() if k != TAG})
    return dumper.represent_dict(data)


_TagDumper.add_representer(dict, _represent_dict)


def dump(doc, flow: bool = False) -> str:
    return yaml.dump(doc, Dumper=_TagDumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=None if flow else False, width=10 ** 6)


_KEY_LINE = re.compile(r"^(\s*(?:- )?)([^\s#'\"{}\[\]][^:#]*):(\s|$)")


@st.composite
def yaml_bytes(draw, docs: st.SearchStrategy) -> bytes:
    """A mutated document as YAML text, sometimes broken further as text: a key written twice, an anchor and
    aliases, truncated, characters YAML gives meaning to spliced in, random bytes."""
    doc = draw(docs)
    try:
        text = dump(doc, flow=draw(st.booleans()))
    except yaml.YAMLError:
        text = repr(doc)
    op = draw(st.sampled_from(["none"] * 6 + ["duplicate", "duplicate", "alias", "truncate", "splice",
                                              "bytes", "binary"]))
    lines = text.splitlines(keepends=True)
    if op == "duplicate":
        keyed = [i for i, line in enumerate(lines) if _KEY_LINE.match(line)]
        if keyed:
            i = draw(st.sampled_from(keyed))
            m = _KEY_LINE.match(lines[i])
            indent = " " * len(m.group(1))
            copy_line = lines[i] if not m.group(1).strip() else indent + lines[i][len(m.group(1)):]
            lines.insert(i + 1, copy_line if copy_line.endswith("\n") else copy_line + "\n")
            text = "".join(lines)
    elif op == "alias":
        keyed = [i for i, line in enumerate(lines) if _KEY_LINE.match(line) and line.rstrip().endswith(":") is False]
        if len(keyed) >= 2:
            a, b = sorted(draw(st.lists(st.sampled_from(keyed), min_size=2, max_size=2, unique=True)))
            ma, mb = _KEY_LINE.match(lines[a]), _KEY_LINE.match(lines[b])
            lines[a] = lines[a][:ma.end()].rstrip("\n") + " &x " + lines[a][ma.end():].lstrip(" ")
            lines[b] = lines[b][:mb.end()].rstrip("\n") + " *x\n"
            text = "".join(lines)
    elif op == "truncate":
        text = text[:draw(st.integers(0, len(text)))]
    elif op == "splice":
        at = draw(st.integers(0, len(text)))
        bit = draw(st.sampled_from(["{", "}", "[", "]", ":", ": ", "- ", "&a ", "*a", "!!python/object:os.system ",
                                    "!!binary ", "%YAML 1.2\n", "\t", "'", '"', "---\n", "...\n", "? ", "<<: *a\n",
                                    "#", "|\n", ">\n", "\x00", "\x85", "\ufeff", "2024-13-01", "0x1F", "0o17",
                                    "1_000", "~", "yes", "on", "=", "\\"]))
        text = text[:at] + bit + text[at:]
    data = text.encode("utf-8")
    if op == "bytes":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    elif op == "binary":
        data = draw(st.binary(max_size=64))
    return data


# --- the documents ----------------------------------------------------------------------------------------
ACCELERATOR_DOCS = [_load(p) for p in ACCELERATOR_FILES] + [load_accelerator(n).to_dict()
                                                            for n in builtin_accelerators()]
HIERARCHY_DOCS = [_load(p) for p in HIERARCHY_FILES] + [design_to_dict(load_hierarchy(p))
                                                        for p in HIERARCHY_FILES]


def _small_sweeps() -> list[dict]:
    """The shipped sweep file and tests/test_sweep.py's, on AlexNet with the default mapping, at most two
    values per parameter (a valid mutation of them then finishes in well under a second)."""
    from tests.test_sweep import SMALL

    shipped = _load(SWEEP_FILE)
    out = []
    for doc in (shipped, SMALL):
        doc = copy.deepcopy(doc)
        doc.update(networks=["alexnet"], mapping="default")
        params = {}
        for path, raw in doc["parameters"].items():
            params[path] = raw[:2] if isinstance(raw, list) else raw
        params.get("l2.size", {}).update({"to": 108}) if isinstance(params.get("l2.size"), dict) else None
        doc["parameters"] = params
        out.append(doc)
    out.append({"base": load_accelerator("eyeriss").to_dict(), "networks": ["alexnet"], "mapping": "default",
                "method": "random", "samples": 2, "seed": 1,
                "parameters": {"array[1].size": [7, 14], "l1.partition": [None],
                               "dram.read_bandwidth": {"from": 2, "to": 8, "step": 3}}})
    return out


SWEEP_DOCS = _small_sweeps()
TIMELOOP_DOCS = {
    "problem": [_load(TL_PROBLEM), _load(TL_ARCH["problem"])],
    "mapping": [_load(TL_MAPPING), _load(TL_ARCH["mapping"])],
    "arch": [_load(TL_ARCH["arch"])],
    "ert": [_load(TL_ARCH["ert"])],
    "arch_v04": [yaml.load(TL_ARCH_V04.read_text(), Loader=_TagLoader)],
}
KEYS = [k for k in _all_keys(ACCELERATOR_DOCS + HIERARCHY_DOCS + SWEEP_DOCS + sum(TIMELOOP_DOCS.values(), []))
        if k != TAG]


def write(scratch: Path, stem: str, data: bytes | str, suffix: str = ".yaml") -> Path:
    path = fresh(scratch, stem).with_suffix(suffix)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


# --- 1. accelerator files --------------------------------------------------------------------------------
@fuzz(300)
@given(data=yaml_bytes(mutated(ACCELERATOR_DOCS, KEYS)), search=st.sampled_from([False] * 3 + [True]))
def test_fuzz_accelerator_files(scratch, data, search):
    path = write(scratch, "acc", data)
    mapping = ["--mapping", "search", "--budget", "5"] if search else ["--mapping", "default"]
    run_cli(["evaluate", "-a", path, "-n", "alexnet", *mapping], scratch)


# --- 2. hierarchy files ----------------------------------------------------------------------------------
@fuzz(200)
@given(data=yaml_bytes(mutated(HIERARCHY_DOCS, KEYS)), search=st.sampled_from([False] * 4 + [True]))
def test_fuzz_hierarchy_files(scratch, data, search):
    path = write(scratch, "hier", data)
    mapping = ["--mapping", "search", "--budget", "3"] if search else ["--mapping", "default"]
    run_cli(["evaluate", "-a", path, "-n", "squeezenet", *mapping], scratch)


# --- 3. sweep files --------------------------------------------------------------------------------------
def _sweep_limits(path: Path) -> list[str]:
    """Options that keep a valid (mutated) sweep short: --samples 2 for a grid of more than 4 designs,
    --networks alexnet for other networks."""
    from naas.sweep_spec import SweepSpecError, load_sweep

    try:
        spec = load_sweep(path)
    except (SweepSpecError, ValueError):
        return []  # the command line reports it
    extra = []
    if spec.method == "grid" and spec.grid_size > 4 or spec.method == "random" and (spec.samples or 0) > 4:
        extra += ["--samples", "2"]
    if set(spec.networks) - {"alexnet"}:
        extra += ["--networks", "alexnet"]
    return extra


@fuzz(250)
@given(data=yaml_bytes(mutated(SWEEP_DOCS, KEYS)), samples=st.sampled_from([False] * 4 + [True]))
def test_fuzz_sweep_files(scratch, data, samples):
    path = write(scratch, "sweep", data)
    extra = _sweep_limits(path)
    if samples and "--samples" not in extra:
        extra += ["--samples", "2"]
    run_cli(["sweep", "--grid", path, "--out", fresh(scratch, "sweep-run") / "new", "--quiet",
             "--mapping", "default", *extra], scratch)


# --- 4. Timeloop problem, mapping, architecture and ERT files ---------------------------------------------
@st.composite
def timeloop_cases(draw):
    """(form, which file is mutated, its bytes): 'mapping' = PROBLEM MAPPING on eyeriss, 'search' = PROBLEM
    alone, 'arch' / 'v04' = PROBLEM MAPPING --arch ARCH [--ert ERT] on tests/data/timeloop_arch."""
    form = draw(st.sampled_from(["mapping", "search", "arch", "arch", "v04"]))
    kinds = {"mapping": ["problem", "mapping"], "search": ["problem"], "arch": ["problem", "mapping", "arch", "ert"],
             "v04": ["problem", "mapping", "arch_v04", "arch_v04"]}[form]
    kind = draw(st.sampled_from(kinds))
    bases = TIMELOOP_DOCS[kind]
    if form in ("arch", "v04") and kind in ("problem", "mapping"):
        bases = bases[1:]  # the files of tests/data/timeloop_arch
    elif form in ("mapping", "search"):
        bases = bases[:1]
    return form, kind, draw(yaml_bytes(mutated(bases, KEYS)))


@fuzz(300)
@given(case=timeloop_cases(), ert=st.booleans())
def test_fuzz_timeloop_files(scratch, case, ert):
    form, kind, data = case
    path = write(scratch, f"tl-{kind}", data)
    if form in ("mapping", "search"):
        files = {"problem": TL_PROBLEM, "mapping": TL_MAPPING, kind: path}
        argv = ["timeloop", "evaluate", files["problem"], *([files["mapping"]] if form == "mapping" else []),
                "-a", "eyeriss", "--budget", "5"]
    else:
        files = {**TL_ARCH, "arch": TL_ARCH["arch"] if form == "arch" else TL_ARCH_V04,
                 "arch" if kind == "arch_v04" else kind: path}
        argv = ["timeloop", "evaluate", files["problem"], files["mapping"], "--arch", files["arch"],
                *(["--ert", files["ert"]] if ert or kind == "ert" else [])]
    run_cli(argv, scratch)


# --- 5. command lines ----------------------------------------------------------------------------------
def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    out = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out[name] = sub
                out.update({f"{name} {k}": v for k, v in _subparsers(sub).items()})
    return out


SUBCOMMANDS = _subparsers(build_parser())
#: options whose large values would make a valid command run long: small values only
COSTLY = {"--budget", "--popsize", "--inner-budget", "--final-budget", "--elite-mutants", "--samples",
          "--input-size", "--batch", "--axis-dims"}
#: not fuzzed: --workers N starts N processes, --scheduler waits for a cluster
NOT_FUZZED = {"--workers", "--scheduler"}
NUMBERS = ["0", "-1", "1", "2", "3", "-0", "1.5", "-2.5", "nan", "inf", "-inf", "1e3", "0x10", "1_0",
           str(10 ** 30), str(-(10 ** 30)), "9" * 400, " 2", "٣"]
SMALL_NUMBERS = ["0", "-1", "1", "2", "3", "-0", "1.5", "nan", "inf", "1e3", "0x10", "1_0", str(-(10 ** 30)),
                 "٣", " 2"]
TEXTS = ["", " ", "x", "-", "--", "-x", "é", "a,b", ",", "alexnet", "alexnet,squeezenet", "resnet51",
         "eyeriss", "eyeriss-hier", "shidiannao", "tpu-v1", "nvdla-256-hier", "timeloop-eyeriss-65nm", "table",
         "json", "search", "default", "shared_glb=l2", "=", "a=b=c", "x=l2,", "GLB=l9", "--help", "💥"]


#: random text as a command line holds it: any character but NUL (a C string's end: no shell passes one)
ARG_TEXT = st.text(st.characters(exclude_characters="\x00"), max_size=6)


@pytest.fixture(scope="module")
def cli_files(scratch) -> dict[str, list[str]]:
    """Paths the command-line fuzzer passes: missing ones, a directory, existing files of every kind, a
    finished search run and a sweep run (to resume and report), damaged run folders."""
    d = scratch / "files"
    d.mkdir()
    (d / "adir").mkdir()
    (d / "empty.yaml").write_text("")
    (d / "garbage.yaml").write_bytes(b"\xff\xfe\x00garbage")
    (d / "model.onnx").write_bytes(b"not onnx")
    (d / "acc.yaml").write_text(ACCELERATOR_FILES[0].read_text())
    (d / "hier.yaml").write_text(HIERARCHY_FILES[0].read_text())
    (d / "sweep.yaml").write_text(dump(SWEEP_DOCS[1]))
    (d / "csv-here.csv").write_text("a,b\n")
    for name in ("norun", "badstore"):
        (d / name).mkdir()
    (d / "badstore" / "run.sqlite").write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    search_run, sweep_run = d / "search-run", d / "sweep-run"
    assert main(["search", "--baseline", "shidiannao", "--networks", "alexnet", "--mode", "sizing", "--budget",
                 "3", "--popsize", "3", "--final-budget", "0", "--warm-start", "baseline", "--inner-budget", "10",
                 "--out", str(search_run), "--quiet"]) == 0
    assert main(["sweep", "--grid", str(d / "sweep.yaml"), "--out", str(sweep_run), "--quiet"]) == 0
    logging.getLogger().handlers[:] = [h for h in logging.getLogger().handlers if not getattr(h, "_naas", False)]
    # copies of the Timeloop test files: an output option (--csv, --out) given one of them must not overwrite
    # the repository's test data
    for folder in {f.parent for f in (TL_PROBLEM, TL_MAPPING, *TL_ARCH.values(), TL_ARCH_V04)}:
        shutil.copytree(folder, d / folder.name)
    tl = [d / f.parent.name / f.name for f in (TL_PROBLEM, TL_MAPPING, *TL_ARCH.values(), TL_ARCH_V04)]
    files = [d / "adir", d / "empty.yaml", d / "garbage.yaml", d / "acc.yaml", d / "hier.yaml", d / "sweep.yaml",
             d / "csv-here.csv", d / "norun", d / "badstore", search_run, sweep_run, d / "missing.yaml",
             d / "missing" / "deeper.yaml", "/nonexistent/x.yaml", d / "acc.yaml" / "child", *tl]
    return {"paths": [str(p) for p in files], "onnx": [str(d / "model.onnx"), str(d / "missing.onnx")],
            "reports": [str(d / p) for p in ("adir", "norun", "badstore", "missing", "acc.yaml")],
            "sweep": str(d / "sweep.yaml"), "runs": [str(search_run), str(sweep_run)]}


@st.composite
def option_values(draw, action: argparse.Action, files: dict[str, list[str]]) -> list[str]:
    """An option as the fuzzer writes it: the flag (any of its spellings), and a value unless it takes none
    (sometimes the value is left out, or two are given)."""
    flag = draw(st.sampled_from(action.option_strings))
    if action.nargs == 0:
        return [flag]
    pool = list(TEXTS) + list(files["paths"])
    if action.choices:
        pool += [str(c) for c in action.choices] * 3
    pool += SMALL_NUMBERS * 2 if flag in COSTLY else NUMBERS * 2
    if flag in ("--network", "-n"):
        pool += files["onnx"]
    value = draw(st.one_of(st.sampled_from(pool), ARG_TEXT))
    shape = draw(st.sampled_from(["flag value"] * 8 + ["flag=value", "flag", "flag value value"]))
    if shape == "flag=value" and flag.startswith("--"):
        return [f"{flag}={value}"]
    if shape == "flag":
        return [flag]
    if shape == "flag value value":
        return [flag, value, draw(st.sampled_from(pool))]
    return [flag, value]


#: forced before the fuzzed options, so that a valid command line finishes fast (the fuzzer may override them)
FORCED = {
    "evaluate": ["-n", "alexnet", "--mapping", "default", "--budget", "5"],
    "search": ["--baseline", "shidiannao", "--networks", "alexnet", "--mode", "sizing", "--budget", "4",
               "--popsize", "3", "--final-budget", "0", "--warm-start", "baseline", "--inner-budget", "10"],
    "sweep": ["--mapping", "default", "--inner-budget", "5"],
    "timeloop evaluate": ["--budget", "5"],
    "report": [],
    "list": [],
}


@st.composite
def command_lines(draw, command: str, files: dict[str, list[str]]) -> list[str]:
    parser = SUBCOMMANDS[command]
    options = [a for a in parser._actions if a.option_strings and not set(a.option_strings) & NOT_FUZZED]
    positionals = [a for a in parser._actions if not a.option_strings]
    argv = list(command.split())
    if draw(st.integers(0, 9)) == 0:
        argv = ["-v", *argv] if draw(st.booleans()) else argv + ["-v"]  # -v belongs before the command
    argv += FORCED[command]
    if command in ("search", "sweep"):
        argv += ["--quiet", "--out", "FRESH"]
    if command == "sweep" and draw(st.integers(0, 3)):
        argv += ["--grid", files["sweep"]]  # the small sweep file, unless the fuzzer omits it
    chosen = draw(st.lists(st.sampled_from(options), max_size=5)) if options else []
    for action in chosen:
        argv += draw(option_values(action, files))
    pool = files["reports"] if command == "report" else files["paths"] + TEXTS
    for action in positionals:
        if action.nargs == "?" and draw(st.booleans()):
            continue
        if draw(st.integers(0, 14)) or action.nargs == "?":
            argv.append(draw(st.sampled_from(pool)))
    if draw(st.integers(0, 9)) == 0:
        argv.append(draw(st.sampled_from(["--bogus", "extra", "-", "--", "-h"])))
    if draw(st.integers(0, 9)) == 0:  # shuffled: options after positionals, values detached from flags
        argv = argv[:len(command.split())] + draw(st.permutations(argv[len(command.split()):]))
    return argv


def _fuzz_command_line(scratch, argv: list[str]) -> None:
    argv = [str(fresh(scratch, "out") / "new") if a == "FRESH" else a for a in argv]
    run_cli(argv, scratch)


@pytest.mark.parametrize("command, examples", [
    ("evaluate", 200), ("search", 40), ("sweep", 100), ("timeloop evaluate", 150), ("report", 40), ("list", 30),
])
def test_fuzz_command_lines(scratch, cli_files, command, examples):
    @fuzz(examples)
    @given(argv=command_lines(command, cli_files))
    def fuzz_one(argv):
        _fuzz_command_line(scratch, argv)
    fuzz_one()


def test_report_of_finished_runs(scratch, cli_files):
    """The valid run folders report (the command-line fuzzer does not pass them to report: it draws plots,
    about a second a run)."""
    for run in cli_files["runs"]:
        assert run_cli(["report", run], scratch)[0] == 0


# --- what the fuzzers found: each a reproducer ----------------------------------------------------------------
LONG_NAME = "9" * 400  # longer than a file name may be (ENAMETOOLONG)


def _doc_with(doc: dict, path: tuple, value) -> dict:
    return _set(copy.deepcopy(doc), path, value)


def _arch_with_local(value) -> dict:
    arch = _load(TL_ARCH["arch"])
    arch["architecture"]["subtree"][0]["subtree"][0]["local"] = value
    return arch


@pytest.mark.parametrize("kind, doc, argv_tail", [
    # nn_space/timeloop_problem.py: a list among the dims was looked up in a set (TypeError)
    ("problem", _doc_with(_load(TL_PROBLEM), ("problem", "shape", "dimensions", 0), []), ["-a", "eyeriss"]),
    ("problem", _doc_with(_load(TL_PROBLEM), ("problem", "shape", "dimensions"), 7), ["-a", "eyeriss"]),
    # cost_model/timeloop_evaluate.py: a level's 'local' or 'attributes' that is no list / mapping (TypeError,
    # ValueError while the fan-outs were named, before the architecture reader could say what is wrong)
    ("arch", _arch_with_local(3), []),
    ("arch", _arch_with_local([{"name": "GlobalBuffer", "class": "SRAM", "attributes": [1, 2]}]), []),
    ("arch", _arch_with_local([{"name": "GlobalBuffer", "class": "SRAM", "attributes": "depth"}]), []),
])
def test_found_timeloop_files(scratch, kind, doc, argv_tail):
    path = write(scratch, f"found-{kind}", dump(doc))
    if kind == "problem":
        argv = ["timeloop", "evaluate", path, TL_MAPPING, *argv_tail]
    else:
        argv = ["timeloop", "evaluate", TL_ARCH["problem"], TL_ARCH["mapping"], "--arch", path]
    assert run_cli(argv, scratch)[0] == 2


def test_found_accelerator_files(scratch):
    # cost_model/accelerator.py: an energy table given as a list was looked up in a dict (TypeError)
    doc = _doc_with(load_accelerator("edgetpu").to_dict(), ("energy", "table"), [])
    _, _, err = run_cli(["evaluate", "-a", write(scratch, "found-acc", dump(doc)), "-n", "alexnet",
                         "--mapping", "default"], scratch)
    assert "energy.table: [] (allowed: " in err


@pytest.mark.parametrize("args, message", [
    # nn_space/layers.py: no upper bound on a layer's sizes: the default mapping looped over 10^10 candidates
    # (a hang), 10^30 overflowed the kernels' int64 arrays (OverflowError)
    (["--batch", "10000000000"], "n: 10000000000 is out of range (allowed: 1 to 16777216)"),
    (["--input-size", str(10 ** 30)], "is out of range (allowed: 1 to 16777216)"),
    (["--batch", "16777216"], "MACs (allowed: at most 2^48"),
    # cost_model/yaml_files.py (path_exists): a name longer than the file system takes (OSError from exists())
    (["-a", LONG_NAME], "is neither a file nor built in"),
    (["-a", LONG_NAME + ".yaml"], "cannot be read (File name too long)"),
    (["-n", LONG_NAME + ".onnx"], "does not exist"),
])
def test_found_command_lines(scratch, args, message):
    _, _, err = run_cli(["evaluate", "-n", "alexnet", "--mapping", "default", *args], scratch)
    assert message in err, err


def test_found_sweep_base_names(scratch):
    # naas/sweep_spec.py: base names the system cannot look up (too long, a NUL byte): OSError / ValueError
    for base in (LONG_NAME, "eye\x00riss", LONG_NAME + ".yaml"):
        doc = {**SWEEP_DOCS[1], "base": base}
        _, _, err = run_cli(["sweep", "--grid", write(scratch, "found-sweep", dump(doc)), "--out",
                             fresh(scratch, "found-run"), "--quiet"], scratch)
        assert "base: " in err, err


def test_found_unprintable_keys(scratch):
    # naas/sweep_spec.py, nn_space/timeloop_problem.py, mapping/timeloop_mapping.py: an unknown key was shown
    # (and mapping/timeloop_nest_mapping.py, a mapping's target) as written: a line break in it broke the
    # one-line message
    for key in ("\x1e", "a\nb"):
        sweep = write(scratch, "found-key", dump({**SWEEP_DOCS[1], key: 0}))
        _, _, err = run_cli(["sweep", "--grid", sweep, "--out", fresh(scratch, "found-run"), "--quiet"], scratch)
        assert f"{key!r}: unknown field" in err, err
        problem = write(scratch, "found-key", dump(_doc_with(_load(TL_PROBLEM), ("problem", "instance", key), 1)))
        _, _, err = run_cli(["timeloop", "evaluate", problem, "-a", "eyeriss"], scratch)
        assert f"problem.instance.{key!r}: unknown field" in err, err
        mapping = write(scratch, "found-key", dump(_doc_with(_load(TL_MAPPING), ("mapping", 0, key), 1)))
        _, _, err = run_cli(["timeloop", "evaluate", TL_PROBLEM, mapping, "-a", "eyeriss"], scratch)
        assert f"mapping[0].{key!r}: unknown field" in err, err
        sweep = write(scratch, "found-key", dump({**SWEEP_DOCS[1], "parameters": {f"l2.{key}": [1]}}))
        _, _, err = run_cli(["sweep", "--grid", sweep, "--out", fresh(scratch, "found-run"), "--quiet"], scratch)
        assert f"parameters.{f'l2.{key}'!r}: {key!r} is not a field name" in err, err
        doc = _load(TL_ARCH["mapping"])
        doc["mapping"][2][key] = 1
        mapping = write(scratch, "found-key", dump(doc))
        _, _, err = run_cli(["timeloop", "evaluate", TL_ARCH["problem"], mapping, "--arch", TL_ARCH["arch"]], scratch)
        assert f"mapping[2] (ClusterBuffer).{key!r}: not a field of a spatial directive" in err, err
        doc["mapping"][2] = {**doc["mapping"][2], "target": f"Cluster{key}Buffer"}
        del doc["mapping"][2][key]
        mapping = write(scratch, "found-key", dump(doc))
        _, _, err = run_cli(["timeloop", "evaluate", TL_ARCH["problem"], mapping, "--arch", TL_ARCH["arch"]], scratch)
        assert "\n" not in err.rstrip("\n"), err


def test_found_sweep_seed_override(scratch):
    # naas/sweep_spec.py: --seed replaced the file's checked seed unchecked; a negative one reached numpy's
    # random generator (ValueError: expected non-negative integer) in a random sweep
    for extra in (["--samples", "2"], []):
        _, _, err = run_cli(["sweep", "--grid", write(scratch, "found-sweep", dump(SWEEP_DOCS[1])), "--out",
                             fresh(scratch, "found-run"), "--quiet", "--seed", "-1", *extra], scratch)
        assert "--seed: -1 (allowed: an integer >= 0)" in err, err


def test_found_non_utf8_run_folder_in_process(scratch):
    # cost_model/blas_kernels.py: a run folder whose name is not UTF-8 (from the shell: surrogate escapes) is
    # mapped into the process; reading /proc/self/maps as strict UTF-8 raised UnicodeDecodeError
    folder = fresh(scratch, "found-run") / "x\udcff"
    code, out, _ = run_cli(["sweep", "--grid", write(scratch, "found-sweep", dump(SWEEP_DOCS[1])), "--out",
                            folder, "--quiet"], scratch)
    assert code == 0 and (folder / "best.yaml").is_file()


def test_found_non_utf8_run_folder_on_a_strict_stdout(scratch):
    # naas/__main__.py: the run folder's name is printed on stdout; one that is not UTF-8 could not be written to
    # a strict UTF-8 stdout (UnicodeEncodeError traceback); the streams now write surrogate escapes as bytes
    import subprocess
    import sys

    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict", "OPENBLAS_NUM_THREADS": "1"}
    folder = os.fsencode(fresh(scratch, "found-run")) + b"/x\xff"
    grid = write(scratch, "found-sweep", dump(SWEEP_DOCS[1]))
    r = subprocess.run([sys.executable, "-m", "naas", "sweep", "--grid", str(grid), "--out", folder, "--quiet"],
                       capture_output=True, env=env, cwd=scratch)
    assert b"Traceback" not in r.stderr, r.stderr.decode(errors="replace")[-2000:]
    assert r.returncode == 0


def test_large_layers_are_fast(scratch):
    """mapping/default_mapping.py, encoding.py, nest_encoding.py: the candidate factors of a bound are found in
    O(sqrt(bound)) steps (they took O(bound), the hierarchy search's tables O(bound^2))."""
    import time

    start = time.perf_counter()
    assert run_cli(["evaluate", "-n", "alexnet", "--batch", "1000", "--mapping", "default"], scratch)[0] == 0
    assert run_cli(["evaluate", "-a", "eyeriss-hier", "-n", "alexnet", "--input-size", "2000", "--budget", "3"],
                   scratch)[0] == 0
    assert time.perf_counter() - start < 30


#: A run folder name longer than the file system takes (found by the command-line fuzzer): OSError
#: (ENAMETOOLONG) from Path.exists() / mkdir() was a traceback; the CLI now reports it on one line.
RUN_FOLDER_NAMES = [
    ["sweep", "--resume", LONG_NAME],
    ["search", "--resume", LONG_NAME],
    ["search", "--out", LONG_NAME, "--quiet"],
    ["report", LONG_NAME],
    ["timeloop", "export", "-n", "alexnet", "--mapping", "default", "--out", LONG_NAME],
]


@pytest.mark.parametrize("argv", RUN_FOLDER_NAMES, ids=["sweep-resume", "search-resume", "search-out",
                                                         "report", "timeloop-export-out"])
def test_found_run_folder_names(scratch, argv):
    run_cli(argv, scratch)


