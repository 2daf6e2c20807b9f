"""The TFLite target's exact graph rewrites (export/targets/litert_graph.py): PReLU as max / min /
relu elementwise ops gives torch's PReLU bit for bit for every slope regime, leaves the caller's
module alone, and a FaceMesh trunk converted by litert-torch after the rewrites runs channels-last
(no TRANSPOSE around its zero pads, no five-op PReLU) with torch's numbers."""
from __future__ import annotations

import collections
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lrdif.export.targets.litert_graph import prelu_as_elementwise, register_nhwc_constant_pad
from lrdif.training.model.facemesh import FaceMeshTrunk, FaceMeshTrunkConfig, PReLU2d


def _with_slopes(alpha: torch.Tensor) -> torch.nn.Module:
    m = torch.nn.Sequential(torch.nn.Conv2d(3, alpha.numel(), 1), PReLU2d(alpha.numel()))
    m[1].alpha.data.copy_(alpha)
    return m.eval()


@pytest.mark.parametrize("alpha,mode", [
    (torch.tensor([-0.9, 0.0, 0.25, 1.0]), "max"),
    (torch.tensor([1.0, 1.3, 2.0, 5.0]), "min"),
    (torch.tensor([-0.5, 0.2, 1.0, 1.29]), "relu"),
])
@torch.no_grad()
def test_elementwise_prelu_is_bit_exact(alpha, mode):
    model = _with_slopes(alpha)
    out, n = prelu_as_elementwise(model)
    assert n == 1 and out[1].mode == mode
    assert isinstance(model[1], PReLU2d)                       # the caller's module is untouched
    x = torch.randn(2, 3, 9, 9, generator=torch.Generator().manual_seed(0)) * 4
    x[0, :, 0, 0] = 0.0
    assert torch.equal(out(x), model(x))
    assert torch.equal(out(x), F.prelu(model[0](x), alpha))


@torch.no_grad()
def test_torch_prelu_per_channel_and_shared_slope():
    m = torch.nn.Sequential(torch.nn.PReLU(4, init=0.3), torch.nn.PReLU(init=1.7)).eval()
    out, n = prelu_as_elementwise(m)
    assert n == 2 and (out[0].mode, out[1].mode) == ("max", "min")
    x = torch.randn(1, 4, 5, 5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(out(x), m(x))


def test_nhwc_pad_registration_is_idempotent():
    assert register_nhwc_constant_pad() is True
    assert register_nhwc_constant_pad() is True


@torch.no_grad()
def test_facemesh_trunk_converts_channels_last():
    litert_torch = pytest.importorskip("litert_torch")
    from ai_edge_litert.interpreter import Interpreter

    torch.manual_seed(0)
    trunk = FaceMeshTrunk(FaceMeshTrunkConfig(input_size=64)).eval()
    for m in trunk.modules():
        if isinstance(m, PReLU2d):
            m.alpha.data.uniform_(-0.5, 0.9)
    trunk.blocks[3].act.alpha.data[0] = 1.2                   # one mixed-slope layer
    x = torch.rand(1, 3, 64, 64)
    rewritten, n = prelu_as_elementwise(trunk)
    assert n == 15 and register_nhwc_constant_pad()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "trunk.tflite"
        litert_torch.convert(rewritten.eval(), (x,)).export(str(path))
        it = Interpreter(model_path=str(path), num_threads=1)
        it.allocate_tensors()
        ops = collections.Counter(o["op_name"] for o in it._get_ops_details())
        it.set_tensor(it.get_input_details()[0]["index"], x.numpy())
        it.invoke()
        got = it.get_tensor(it.get_output_details()[0]["index"])
    # one TRANSPOSE in (NCHW input) and one before the pooled output at most; before the
    # rewrites this trunk converted with 23 TRANSPOSE and 5 ops per PReLU (RELU, MUL, SUB)
    assert ops["TRANSPOSE"] <= 2, ops
    assert ops["SUB"] == 0 and ops["MAXIMUM"] == 14, ops
    np.testing.assert_allclose(got, trunk(x).numpy(), rtol=0, atol=1e-5)
