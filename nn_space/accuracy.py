"""Once-for-All's released accuracy predictors, evaluated without torch (SPEC §7; issue 5).

The predictor files are OFA's (MIT-licensed code, data from ``han-cai/files``); this project never ships
them. It finds them in a folder given by ``data_dir`` or the ``NAAS_OFA_DATA`` environment variable, checks
each file's sha256, and reads it with ``torch.load(weights_only=True)`` (torch is needed only for that).

What the output is: **predicted top-1 accuracy (a fraction) on OFA's 10,000-image holdout set, drawn from
the ImageNet training set** — not ImageNet validation accuracy. Subnets outside what a predictor was trained
on (resolutions, width) are refused with a message, never extrapolated.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from cost_model.numba_cache import njit

from .ofa_spaces import (MobileNetV3Subnet, OFAMobileNetV3Space, OFAResNet50Space, ResNet50Subnet,
                         SubnetSpecError, get_space)

ENV_VAR = "NAAS_OFA_DATA"
ACCURACY_LABEL = "predicted top-1 on OFA's holdout (10k ImageNet-train images)"


@dataclass(frozen=True)
class PredictorFile:
    """A released predictor: file name in the OFA data folder, its sha256, and what it was trained on."""

    space: str
    filename: str
    sha256: str
    resolutions: tuple[int, ...]  # the resolutions the predictor was trained at (others are refused)


PREDICTORS = {
    "ofa-mbv3-w1.2": PredictorFile(
        "ofa-mbv3-w1.2", "ofa_mbv3_w12_acc_predictor.pth",
        "48685122a3540636b06699af66cd816456b25f29b69563e2fda9bed4018eeba0", (160, 176, 192, 208, 224)),
    # Slot order of the 8 resolution inputs as OFA's ResNet-50 predictor is used with the ofa package's
    # ResNetArchEncoder: 128-256 by 16 without 208.
    "ofa-resnet50": PredictorFile(
        "ofa-resnet50", "ofa_resnet50_acc_predictor.pth",
        "68912b4b4be38feb504c5b773dc847af23a637984d5eaabf548de72cd0f79529",
        (128, 144, 160, 176, 192, 224, 240, 256)),
}
#: MobileNetV3 predictor input: 8 resolution slots for 112..224 by 16; only those above were trained.
_MBV3_RES_SLOTS = tuple(range(112, 225, 16))


class PredictorError(ValueError):
    """The predictor cannot be found, does not match its checksum, or cannot be loaded."""


class SubnetOutOfRangeError(SubnetSpecError):
    """A subnet the predictor was not trained on (names the field and the trained range)."""


def find_ofa_data(data_dir: str | Path | None = None) -> Path:
    """The folder holding OFA's predictor files: ``data_dir``, else ``$NAAS_OFA_DATA``."""
    given = data_dir if data_dir is not None else os.environ.get(ENV_VAR)
    if not given:
        raise PredictorError(
            f"OFA predictor files: no folder given; pass --ofa-data DIR or set {ENV_VAR} to the folder holding "
            f"{', '.join(p.filename for p in PREDICTORS.values())} (from OFA's han-cai/files repository)")
    path = Path(given).expanduser()
    if not path.is_dir():
        raise PredictorError(f"OFA predictor files: {str(path)!r} is not a folder")
    return path


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class AccuracyPredictor:
    """An OFA accuracy predictor (MLP, 3 hidden layers of 400, ReLU) evaluated in numpy."""

    label = ACCURACY_LABEL

    def __init__(self, info: PredictorFile, layers: list[tuple[np.ndarray, np.ndarray | None]],
                 base: float, path: Path):
        self.info = info
        self.space = get_space(info.space)
        self.layers = layers
        self.base = base
        self.path = path

    # --- inputs -----------------------------------------------------------------------------------
    def check(self, subnet) -> None:
        """Raise SubnetOutOfRangeError if the predictor was not trained on this subnet."""
        if subnet.resolution not in self.info.resolutions:
            raise SubnetOutOfRangeError(
                f"resolution: {subnet.resolution} is outside the {self.info.space} predictor's trained range "
                f"(trained at {', '.join(map(str, self.info.resolutions))}); its prediction there would be "
                f"an extrapolation")
        self.space.canonical(subnet)

    def features(self, subnet) -> np.ndarray:
        """The predictor's input vector for one subnet (OFA's encodings)."""
        self.check(subnet)
        s = self.space.canonical(subnet)
        if isinstance(s, MobileNetV3Subnet):
            return _mbv3_features(s)
        return _resnet50_features(self.space, s, self.info.resolutions)

    # --- outputs ----------------------------------------------------------------------------------
    def predict(self, subnets: Sequence) -> np.ndarray:
        """Predicted top-1 (fraction) on OFA's holdout for each subnet."""
        if len(subnets) == 0:
            return np.zeros(0)
        x = np.stack([self.features(s) for s in subnets]).astype(np.float64)
        for i, (w, b) in enumerate(self.layers):
            bias = np.zeros(w.shape[0]) if b is None else b
            x = _dense(x, np.ascontiguousarray(w, dtype=np.float64), np.asarray(bias, dtype=np.float64),
                       i < len(self.layers) - 1)
        return x[:, 0] + self.base

    def predict_one(self, subnet) -> float:
        return float(self.predict([subnet])[0])


@njit(cache=True)
def _dense(x: np.ndarray, w: np.ndarray, b: np.ndarray, relu: bool) -> np.ndarray:
    """x @ w.T + b (then ReLU), each output summed in one fixed order.

    Not BLAS: a BLAS product's summation order depends on its thread count and on the batch shape, and
    predictions that sit within rounding of the accuracy bound must not flip with either (they did: up to
    7e-9 apart, enough to change which subnets a co-search admits).
    """
    n, k = x.shape
    m = w.shape[0]
    out = np.empty((n, m))
    for r in range(n):
        for o in range(m):
            acc = b[o]
            for i in range(k):
                acc += x[r, i] * w[o, i]
            out[r, o] = max(acc, 0.0) if relu else acc
    return out


def _mbv3_features(s: MobileNetV3Subnet) -> np.ndarray:
    """128 inputs: kernel one-hot (20 x {3,5,7}), expand one-hot (20 x {3,4,6}), resolution one-hot (8)."""
    f = np.zeros(128)
    for i in range(20):
        if s.ks[i]:
            f[3 * i + OFAMobileNetV3Space.KS.index(s.ks[i])] = 1
            f[60 + 3 * i + OFAMobileNetV3Space.EXPAND.index(s.e[i])] = 1
    f[120 + _MBV3_RES_SLOTS.index(s.resolution)] = 1
    return f


def _resnet50_features(space: OFAResNet50Space, s: ResNet50Subnet, resolutions: tuple[int, ...]) -> np.ndarray:
    """82 inputs (ofa's ResNetArchEncoder): resolution (8), stem kept (2), width index (6 x 3), expand (18 x 3)."""
    f = np.zeros(8 + 2 + 18 + 3 * space.slots)
    f[resolutions.index(s.resolution)] = 1
    f[8 + (1 if s.d[0] > 0 else 0)] = 1
    for i, w in enumerate(s.w):
        f[10 + 3 * i + w] = 1
    for i, e in enumerate(s.e):
        if e:
            f[28 + 3 * i + space.EXPAND.index(e)] = 1
    return f


_LOADED: dict[tuple[str, str], AccuracyPredictor] = {}


def load_predictor(space: str, data_dir: str | Path | None = None) -> AccuracyPredictor:
    """The released predictor of ``space``, checksum-verified (cached per file)."""
    if space not in PREDICTORS:
        raise PredictorError(f"space: no accuracy predictor for {space!r} (available: {', '.join(PREDICTORS)})")
    info = PREDICTORS[space]
    path = find_ofa_data(data_dir) / info.filename
    key = (space, str(path.resolve()))
    if key in _LOADED:
        return _LOADED[key]
    if not path.is_file():
        raise PredictorError(f"OFA predictor {info.filename}: not found in {str(path.parent)!r}")
    digest = sha256_of(path)
    if digest != info.sha256:
        raise PredictorError(f"OFA predictor {str(path)!r}: sha256 {digest} does not match the released file's "
                             f"{info.sha256}")
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is in the dev extra
        raise PredictorError("reading OFA's predictor files needs torch: pip install torch==2.13.0") from exc
    state = torch.load(path, map_location="cpu", weights_only=True)
    arrays = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in state.items()}
    if space == "ofa-mbv3-w1.2":
        layers = [(arrays[f"{i}.weight"], arrays[f"{i}.bias"]) for i in (0, 2, 4, 6)]
        base = 0.0
    else:
        layers = [(arrays[f"layers.{i}.0.weight"], arrays[f"layers.{i}.0.bias"]) for i in range(3)]
        layers.append((arrays["layers.3.weight"], None))
        base = float(arrays["base_acc"][0])
    predictor = AccuracyPredictor(info, layers, base, path)
    _LOADED[key] = predictor
    return predictor
