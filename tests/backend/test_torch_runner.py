from __future__ import annotations

import numpy as np
import torch

from edgekit.backend.torch.runner import TorchRunner
from edgekit.models.weights import build_model, save_weights


def test_runner_matches_the_module_and_its_weights(tmp_path):
    torch.manual_seed(0)
    model = build_model("pfld_0.25x").eval()
    batch = np.random.default_rng(0).standard_normal((3, 3, 112, 112)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(batch))[0].numpy()
    with TorchRunner(model) as runner:
        (out,) = runner.infer(batch)
        assert runner.spec is model.spec and runner.max_batch is None
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_array_equal(out, expected)
    path = save_weights(model, tmp_path / "w.safetensors")
    threads = torch.get_num_threads()
    try:
        with TorchRunner(path, threads=1) as runner:
            assert torch.get_num_threads() == 1
            # another thread count may sum in another order: equal to float32 rounding
            np.testing.assert_allclose(runner.infer(batch)[0], expected, rtol=1e-5, atol=1e-7)
            assert runner.spec.name == "pfld_0.25x"
        assert not runner.is_open
    finally:
        torch.set_num_threads(threads)
