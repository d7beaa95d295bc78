"""naas's mapping search vs ZigZag's LOMA mapper, both costed by ZigZag (experiments/zigzag_loma)."""
from __future__ import annotations

import ast
import re

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("zigzag")
pytest.importorskip("six")

from experiments import zigzag_loma as zl  # noqa: E402
from experiments.zigzag_crosscheck import ZigZagBridge  # noqa: E402
from mapping.spec import Mapping  # noqa: E402
from nn_space.layers import DIMS, ConvLayer  # noqa: E402

LAYER = ConvLayer(k=32, c=16, y=14, x=14, r=3, s=3, name="small 3x3")
LAST_LINE = re.compile(r"^geomean EDP\(naas\)/EDP\(LOMA\): ((?:[\w-]+ [0-9.]+(?:, )?)+); naas wall / LOMA wall ([0-9.]+)$")


@pytest.fixture(scope="module")
def eyeriss():
    acc = zl.array_accelerator("eyeriss-12x14")
    return acc, ZigZagBridge(acc)


def _mapping(text: str) -> Mapping:
    d = ast.literal_eval(text)
    return Mapping(dram=d["dram"]["factors"], l2=d["l2"]["factors"], spatial=d["spatial"]["factors"],
                   l1=d["l1"]["factors"], dram_order=d["dram"]["order"], l2_order=d["l2"]["order"],
                   l1_order=d["l1"]["order"])


def test_arrays_are_the_requested_machines():
    e, k = zl.array_accelerator("eyeriss-12x14"), zl.array_accelerator("kc-16x16")
    assert [(a.size, a.dims) for a in e.array] == [(12, ("R", "C", "K")), (14, ("Y",))]
    assert [(a.size, a.dims) for a in k.array] == [(16, ("K",)), (16, ("C",))]
    assert e.l1_partition is None and k.l1_partition is None
    layers = zl.comparison_layers()
    assert sum(k.startswith("r50.") for k in layers) == 23  # ResNet-50's distinct conv shapes (fc left out)
    mb = [layers[k] for k in zl.QUICK_LAYERS]
    assert [(m.k, m.c, m.groups, m.r) for m in mb] == [(384, 64, 1, 1), (384, 384, 384, 3), (64, 384, 1, 1)]


@pytest.mark.parametrize("layer", [LAYER, ConvLayer(k=32, c=32, y=14, x=14, r=3, s=3, groups=32, name="dw"),
                                   ConvLayer(k=64, c=32, y=14, x=14, r=1, s=1, name="1x1")])
def test_naas_sees_zigzags_mac_reuse(eyeriss, layer):
    """With the weight / input register of ``mac_hierarchy``, naas's L1 weight and input reads and partial-sum
    updates equal ZigZag's on every mapping (ZigZag's MAC keeps no partial sum: one L1 update per MAC whatever
    the loop order, so the register holds no outputs)."""
    from cost_model.nest_evaluate import evaluate_nest
    from experiments import zigzag_crosscheck as zc
    from mapping.nest import LevelMapping, NestMapping

    acc, bridge = eyeriss
    hier = zl.mac_hierarchy(acc)
    for m in zc.random_exact_mappings(layer, acc, 6, np.random.default_rng(4)):
        n = evaluate_nest(layer, hier, NestMapping(NestMapping.from_template(m).levels + (LevelMapping(),)))
        z = bridge.cost(layer, m)
        assert n.level("L1", "W_reads") == z["l1_W_rd_down"] and n.level("L1", "I_reads") == z["l1_I_rd_down"]
        assert n.level("L1", "O_updates") == z["l1_O_wr_from_down"]
        # ZigZag reads a partial sum back on every MAC, the first (zero) one included; naas skips the first read
        assert z["l1_O_rd_down"] == z["l1_O_wr_from_down"] > n.level("L1", "O_reads")


def test_loma_gets_naas_spatial_unrolling_and_ratio_is_zigzags(eyeriss):
    """One small layer: the row's ratio is ZigZag's EDP of naas's mapping over ZigZag's EDP of LOMA's best, both
    recomputed here (LOMA's through ZigZag's own MinimalEDPStage pipeline), and LOMA unrolls what naas does."""
    from zigzag.mapping.temporal_mapping import TemporalMappingType
    from zigzag.stages.evaluation.cost_model_evaluation import CostModelStage
    from zigzag.stages.mapping.temporal_mapping_generator_stage import TemporalMappingGeneratorStage
    from zigzag.stages.results.reduce_stages import MinimalEDPStage

    acc, bridge = eyeriss
    row = zl.compare_layer("small", LAYER, acc, bridge, seeds=2, budget=300, lpfs=(5,), even=True)
    naas_best = _mapping(row["naas_mapping_best"])
    assert all(LAYER.loop_bounds[i] % f == 0 for lv in (naas_best.dram, naas_best.l2, naas_best.spatial,
                                                       naas_best.l1) for i, f in enumerate(lv))
    assert np.prod([naas_best.dram, naas_best.l2, naas_best.spatial, naas_best.l1], axis=0).tolist() == \
        list(LAYER.loop_bounds)  # exact factors: ZigZag costs the same loops
    zz_naas = bridge.cost(LAYER, naas_best)["edp"]
    seeds = [float(v) for v in row["zz_edp_naas_seeds"].split()]
    assert zz_naas == pytest.approx(min(seeds), rel=1e-12) == pytest.approx(row["zz_edp_naas_best"], rel=1e-12)

    # LOMA with naas's pick's spatial factors, reduced by ZigZag's own stage
    pick = zl.naas_search(LAYER, acc, row["naas_pick_seed"], 300)["mapping"]
    node, sm, sm_int = zl.zz_spatial(bridge, LAYER, pick)
    zz_names = {"K": "K", "C": "C", "Y": "OY", "X": "OX", "R": "FY", "S": "FX", "N": "B"}
    expected = sorted((zz_names[d], f) for d, f in zip(DIMS, pick.spatial) if f > 1)
    assert zl.spatial_factors(sm) == expected and row["spatial"] == " ".join(f"{d}{f}" for d, f in expected)
    stage = MinimalEDPStage([TemporalMappingGeneratorStage, CostModelStage], accelerator=bridge.zz_acc, layer=node,
                            spatial_mapping=sm, spatial_mapping_int=sm_int,
                            temporal_mapping_type=TemporalMappingType.UNEVEN, loma_lpf_limit=5)
    (cme, _), = list(stage.run())
    zz_loma = cme.energy_total * cme.latency_total2
    assert row["lpf5_zz_edp"] == pytest.approx(zz_loma, rel=1e-12)
    assert row["lpf5_ratio_best"] == pytest.approx(zz_naas / zz_loma, rel=1e-12)
    assert row["lpf5_ratio_median"] == pytest.approx(float(np.median(seeds)) / zz_loma, rel=1e-12)
    # the even LOMA mapping translated to naas costs the same in ZigZag (the translation is exact)
    assert row["even_in_naas"] == "costed"
    assert row["even_zz_edp_of_translation"] == pytest.approx(row["even_zz_edp"], rel=1e-9)
    assert row["even_naas_edp"] > 0


def test_uneven_loma_mappings_are_not_translated(eyeriss):
    acc, bridge = eyeriss
    pick = zl.naas_search(LAYER, acc, 0, 200)["mapping"]
    lo = zl.run_loma(bridge, LAYER, pick, 5)
    m, why = zl.loma_to_template(LAYER, pick, lo["temporal_mapping"])
    origin = lo["temporal_mapping"].mapping_dic_origin
    levels = [[[(str(d), f) for d, f in lv] for lv in v] for v in origin.values()]
    if all(lv == levels[0] for lv in levels):
        assert m is not None and bridge.cost(LAYER, m)["edp"] == pytest.approx(lo["edp"], rel=1e-9)
    else:
        assert m is None and why.startswith("uneven")


def test_script_last_line_is_the_geomean_of_its_csv(tmp_path, capsys):
    code = zl.main(["--layers", "mbv2.features.8.dw", "--arrays", "kc-16x16", "--seeds", "2", "--budget", "600",
                    "--lpf", "5", "--no-even", "--out", str(tmp_path)])
    assert code == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    match = LAST_LINE.match(last)
    assert match, last
    rows = pd.read_csv(tmp_path / "rows.csv")
    assert len(rows) == 1 and (tmp_path / "table.md").exists()
    r = rows.iloc[0]
    assert r.lpf5_ratio_best == pytest.approx(r.zz_edp_naas_best / r.lpf5_zz_edp, rel=1e-12)
    assert match.group(1) == f"kc-16x16 {r.lpf5_ratio_best:.3f}"
    assert float(match.group(2)) == pytest.approx(r.naas_wall_s / r.lpf5_wall_s, abs=1e-3)


def test_unknown_layer_fails_fast(capsys):
    assert zl.main(["--layers", "nope"]) == 2
    assert "unknown layers" in capsys.readouterr().err
