"""OFA accuracy predictors: checksums, trained ranges, the ofa package's encoders, published subnets."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from nn_space.accuracy import (ENV_VAR, PREDICTORS, PredictorError, SubnetOutOfRangeError, find_ofa_data,
                               load_predictor)

from .ofa_reference import ofa_file_module


def test_missing_folder_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(PredictorError, match=f"--ofa-data DIR or set {ENV_VAR}"):
        find_ofa_data(None)
    with pytest.raises(PredictorError, match="ofa_resnet50_acc_predictor.pth: not found"):
        load_predictor("ofa-resnet50", tmp_path)


def test_checksum_mismatch_is_refused(ofa_data, tmp_path):
    name = PREDICTORS["ofa-resnet50"].filename
    shutil.copy(ofa_data / name, tmp_path / name)
    with open(tmp_path / name, "r+b") as f:
        f.seek(-1, 2)
        last = f.read(1)
        f.seek(-1, 2)
        f.write(bytes([last[0] ^ 1]))
    with pytest.raises(PredictorError, match="does not match the released file's 68912b4b"):
        load_predictor("ofa-resnet50", tmp_path)


def test_env_var_locates_the_files(ofa_data, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(ofa_data))
    assert load_predictor("ofa-mbv3-w1.2").path == ofa_data / PREDICTORS["ofa-mbv3-w1.2"].filename


def test_untrained_resolutions_are_refused(ofa_data):
    mbv3 = load_predictor("ofa-mbv3-w1.2", ofa_data)
    sub = mbv3.space.largest(224)
    with pytest.raises(SubnetOutOfRangeError, match=r"resolution: 144 is outside .* \(trained at 160, 176"):
        mbv3.predict([type(sub)(sub.ks, sub.e, sub.d, 144)])
    r50 = load_predictor("ofa-resnet50", ofa_data)
    sub = r50.space.resnet50()
    with pytest.raises(SubnetOutOfRangeError, match="resolution: 208"):
        r50.predict_one(type(sub)(sub.d, sub.e, sub.w, 208))


def test_resnet50_features_match_ofa_encoder(ofa_data):
    enc_mod = ofa_file_module("nas/accuracy_predictor/arch_encoder.py", "ofa_arch_encoder")
    pred = load_predictor("ofa-resnet50", ofa_data)
    encoder = enc_mod.ResNetArchEncoder(image_size_list=list(pred.info.resolutions), depth_list=[0, 1, 2],
                                        expand_list=[0.2, 0.25, 0.35], width_mult_list=[0.65, 0.8, 1.0])
    rng = np.random.default_rng(0)
    for _ in range(30):
        s = pred.space.sample(rng, pred.info.resolutions)
        theirs = encoder.arch2feature({"d": list(s.d), "e": [v or 0.25 for v in s.e], "w": list(s.w),
                                       "image_size": s.resolution})
        np.testing.assert_array_equal(pred.features(s), theirs)


def test_mbv3_features_match_ofa_tutorial(ofa_data):
    tut = ofa_file_module("tutorial/accuracy_predictor.py", "ofa_tutorial_predictor")
    pred = load_predictor("ofa-mbv3-w1.2", ofa_data)
    rng = np.random.default_rng(1)
    for _ in range(30):
        s = pred.space.sample(rng, pred.info.resolutions)
        theirs = tut.AccuracyPredictor.spec2feats([v or 3 for v in s.ks], [v or 3 for v in s.e], list(s.d),
                                                  s.resolution).numpy()
        np.testing.assert_array_equal(pred.features(s), theirs)


def test_predictor_ranks_published_subnets(ofa_data):
    """The 17 published MobileNetV3s at trained resolutions: rank correlation with their top-1."""
    pred = load_predictor("ofa-mbv3-w1.2", ofa_data)
    rows = []
    for folder in sorted((ofa_data / "specialized").iterdir()):
        config = json.loads((folder / "net.config").read_text())
        size = json.loads((folder / "run.config").read_text())["image_size"]
        if config.get("name") != "MobileNetV3" or size not in pred.info.resolutions:
            continue
        top1 = float(folder.name.split("top1-")[1].split("_")[0])
        rows.append((pred.predict_one(pred.space.subnet_from_net_config(config, size)), top1))
    df = pd.DataFrame(rows, columns=["predicted", "published"])
    assert len(df) == 17
    assert df.predicted.corr(df.published, method="spearman") > 0.95
    # holdout (ImageNet train) accuracy reads above fine-tuned ImageNet val top-1
    assert 2 < (df.predicted * 100 - df.published).mean() < 8


def test_resnet50_reference_prediction(ofa_data):
    pred = load_predictor("ofa-resnet50", ofa_data)
    acc = pred.predict_one(pred.space.resnet50())
    assert 0.82 < acc < 0.84
    smaller = pred.space.resnet50(resolution=160)
    assert pred.predict_one(smaller) < acc


_PREDICT_SCRIPT = """
import sys
import numpy as np
from nn_space.accuracy import load_predictor
from nn_space.ofa_spaces import get_space
pred = load_predictor(sys.argv[1], sys.argv[2])
rng = np.random.default_rng(5)
subs = [get_space(sys.argv[1]).sample(rng, resolutions=list(pred.info.resolutions)) for _ in range(40)]
sys.stdout.write(pred.predict(subs).tobytes().hex())
"""


@pytest.mark.parametrize("space", ["ofa-resnet50", "ofa-mbv3-w1.2"])
def test_predictions_do_not_depend_on_batching_threads_or_torch(space, ofa_data):
    """Bit-identical in any batch and under any BLAS thread count; torch's float32 forward within 1e-7."""
    import os
    import subprocess
    import sys

    import torch

    from nn_space.ofa_spaces import get_space

    pred = load_predictor(space, ofa_data)
    rng = np.random.default_rng(5)
    subs = [get_space(space).sample(rng, resolutions=list(pred.info.resolutions)) for _ in range(40)]
    batch = pred.predict(subs)
    assert batch.tolist() == [pred.predict_one(s) for s in subs]
    outputs = set()
    for threads in ("1", "2"):
        env = {**os.environ, "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads}
        r = subprocess.run([sys.executable, "-c", _PREDICT_SCRIPT, space, str(ofa_data)], env=env,
                           capture_output=True, text=True, check=True)
        outputs.add(r.stdout)
    assert outputs == {batch.tobytes().hex()}
    x = torch.tensor(np.stack([pred.features(s) for s in subs]), dtype=torch.float32)
    for i, (w, b) in enumerate(pred.layers):
        x = x @ torch.tensor(w).T + (torch.tensor(b) if b is not None else 0)
        x = torch.relu(x) if i < len(pred.layers) - 1 else x
    assert np.abs(x[:, 0].double().numpy() + pred.base - batch).max() < 1e-7
