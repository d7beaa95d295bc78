"""Transformers through the command line (issue 26): evaluate (3-level and hierarchy), search and sweep take the
zoo's transformers; the table names the layers and lists what is not costed; loop nests use GEMM names."""
from __future__ import annotations

import json

import yaml

from naas.cli import main
from nn_space.zoo import get_network


def test_evaluate_lists_matrix_products_by_name_and_the_uncosted_ops(capsys):
    assert main(["evaluate", "-a", "edgetpu", "-n", "gpt2_decode", "--mapping", "default", "--show-mappings"]) == 0
    out = capsys.readouterr().out
    assert "layer0.attn_qk" in out and "bmm 12x M1 N1024 K64" in out  # the new token's scores over 1024 keys
    assert "gemm M1 N3072 K768" in out  # ffn_up of the one new token
    net = get_network("gpt2_decode")
    softmax = net.uncosted_totals()["softmax"]
    assert f"softmax x{softmax[0]} ({softmax[1] / 1e6:.3g} M elements)" in out
    assert "not costed" in out and "layernorm" in out and "gelu" in out
    # the loop nests name a product's dims M, N, K (and B for the batch of heads), not the conv dims
    nest = out.split("layer0.attn_qk: ", 1)[1].split("\n\n", 1)[0]
    assert "for B in" in nest or "par-for B in" in nest
    assert " Y in" not in nest and " C in" not in nest


def test_evaluate_json_carries_the_uncosted_totals(capsys):
    assert main(["evaluate", "-a", "nvdla-1024", "-n", "bert_base", "--mapping", "default", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    net = get_network("bert_base")
    assert doc["totals"]["macs"] == net.macs
    assert doc["totals"]["uncosted"] == {op: {"count": c, "elements": e} for op, (c, e) in net.uncosted_totals().items()}
    shapes = {row["layer"]: row["shape"] for row in doc["layers"]}
    assert shapes["layer0.attn_av"] == "bmm 12x M128 N64 K128"
    assert shapes["layer11.ffn_down"] == "gemm M128 N768 K3072"


def test_evaluate_on_a_hierarchy(capsys):
    assert main(["evaluate", "-a", "eyeriss-hier", "-n", "gpt2_decode", "--mapping", "default"]) == 0
    out = capsys.readouterr().out
    assert "gpt2_decode: 97 layers" in out and "not costed" in out


def test_search_and_sweep_take_a_transformer(tmp_path, capsys):
    assert main(["search", "--baseline", "edgetpu", "--networks", "gpt2_decode", "--budget", "6",
                 "--inner-budget", "20", "--final-budget", "0", "--quiet", "--out", str(tmp_path / "s")]) == 0
    assert "geomean network EDP" in capsys.readouterr().out
    grid = tmp_path / "sweep.yaml"
    grid.write_text(yaml.safe_dump({"base": "edgetpu", "networks": ["gpt2_decode"], "mapping": "default",
                                    "parameters": {"l2.size": {"from": 1, "to": 2, "factor": 2, "unit": "MiB"},
                                                   "dram.bandwidth": [8, 32]}}))
    assert main(["sweep", "--grid", str(grid), "--out", str(tmp_path / "w"), "--quiet"]) == 0
    assert "4 designs (4 evaluated now" in capsys.readouterr().out


def test_api_network_runs_a_torch_transformer_on_example_inputs():
    import pytest
    import torch

    import naas

    layer = torch.nn.TransformerEncoderLayer(64, 4, 128, batch_first=True)
    net = naas.network(torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False),
                       example_inputs=torch.zeros(2, 16, 64), name="tiny")
    assert net.describe_input() == "2x16 tokens"
    kinds = [(lc.op, lc.describe()) for lc in net.layers[:3]]
    assert kinds == [("gemm", "gemm M32 N192 K64"), ("bmm", "bmm 8x M16 N16 K16"), ("bmm", "bmm 8x M16 N16 K16")]
    d, t, ff = 64, 32, 128  # per layer: in_proj 3 d^2 t, two products 2 (b h) s^2 (d/h), out_proj, the FFN
    assert net.macs == 2 * (3 * d * d * t + 2 * 8 * 16 * 16 * 16 + d * d * t + 2 * d * ff * t)
    r = naas.evaluate(net, "edgetpu", mapping="default")
    assert r.uncosted["softmax"] == (2, 2 * 8 * 16 * 16)
    with pytest.raises(naas.NaasError, match="example_inputs: only a torch.nn.Module"):
        naas.network("resnet50", example_inputs=torch.zeros(1))


def test_an_onnx_token_model_with_dynamic_axes_takes_its_tokens_from_input_size(tmp_path):
    import torch

    import naas

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(32, 96)

        def forward(self, x):  # x: (batch, tokens, 32)
            b, t, _ = x.shape
            q, k, v = self.proj(x).view(b, t, 3, 4, 8).permute(2, 0, 3, 1, 4)
            return torch.nn.functional.scaled_dot_product_attention(q, k, v)

    path = tmp_path / "block.onnx"
    torch.onnx.export(Block().eval(), (torch.zeros(1, 8, 32),), str(path), opset_version=17, dynamo=False,
                      input_names=["x"], dynamic_axes={"x": {0: "batch", 1: "tokens"}})
    net = naas.network(str(path), input_size=16, batch=2)
    products = [layer.describe() for layer in net.layers if layer.op == "bmm"]
    assert products == ["bmm 8x M16 N16 K8", "bmm 8x M16 N8 K16"]  # 2 samples x 4 heads, 16 tokens
    assert main(["evaluate", "-a", "edgetpu", "-n", str(path), "--input-size", "16", "--mapping", "default"]) == 0
