"""Hierarchy files: built-ins read back equal, and no mangled file gives anything but a one-line error."""
from __future__ import annotations

import copy

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cost_model.accelerator import AcceleratorSpecError
from cost_model.hierarchy import HierarchySpecError
from cost_model.hierarchy_yaml import (HIERARCHY_DIR, builtin_hierarchies, hierarchy_from_dict, hierarchy_to_dict,
                                       load_hierarchy)
from cost_model.units import UnitError

BASE = yaml.safe_load((HIERARCHY_DIR / "eyeriss-hier.yaml").read_text())
JUNK = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**12), st.floats(allow_nan=True),
                 st.text(max_size=8), st.lists(st.integers(-2, 3), max_size=3), st.just("a\nb"),
                 st.dictionaries(st.text(max_size=6), st.integers(-1, 3), max_size=2),
                 st.sampled_from(["unlimited", "12 words", "1 KiB", "-3 B", "inputs", "K", "Q", "spad"]))


def _paths(doc, prefix=()):
    """Every (path) to a value inside the document."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield prefix + (i,)
            yield from _paths(v, prefix + (i,))


PATHS = list(_paths(BASE))


@pytest.mark.parametrize("name", builtin_hierarchies())
def test_builtins_round_trip(name):
    h = load_hierarchy(name)
    assert hierarchy_from_dict(hierarchy_to_dict(h)) == h


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), value=JUNK, drop=st.booleans())
def test_mangled_files_give_one_line_errors(path, value, drop):
    doc = copy.deepcopy(BASE)
    node = doc
    for key in path[:-1]:
        node = node[key]
    if drop and isinstance(node, dict):
        del node[path[-1]]
    else:
        node[path[-1]] = value
    try:
        hierarchy_from_dict(doc, "h.yaml")
    except (HierarchySpecError, AcceleratorSpecError, UnitError) as exc:
        assert "\n" not in str(exc) and str(exc)


def test_a_level_too_small_for_one_word_is_refused_on_reading():
    doc = {"name": "tiny", "levels": [{"name": "DRAM"}, {"name": "RF", "size": "1 B"}]}
    with pytest.raises(HierarchySpecError, match=r"levels\[1\] \(RF\): size: 1 B cannot hold one word"):
        hierarchy_from_dict(doc, "tiny.yaml")
    doc["levels"][1] = {"name": "RF", "size": {"weights": "1 B"}, "keeps": ["weights"]}
    with pytest.raises(HierarchySpecError, match="size.weights: 1 B cannot hold one 16-bit word"):
        hierarchy_from_dict(doc, "tiny.yaml")
    doc["levels"][1] = {"name": "RF", "size": "2 B", "keeps": ["weights"]}
    assert hierarchy_from_dict(doc, "tiny.yaml").levels[1].size_bytes == 2
