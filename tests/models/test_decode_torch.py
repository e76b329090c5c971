"""Torch decoders: hand-computed cases and equality with the numpy decoders on random tensors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from edgekit.backend.signature import expected_outputs
from edgekit.heads import (BinsParams, HeadSpec, HeatmapParams, PipParams, PoseRegressionParams,
                           RegressionParams, SsrParams, decoder_table)
from edgekit.models.decode_torch import (decode_bins, decode_heatmap_argmax, decode_pip, decode_regression,
                                         decode_ssr, decode_torch)
from edgekit.runtime.decode import bins, decode, heatmap_argmax, heatmap_to_crop, pip, ssr
from edgekit.specs import ModelSpec, PreprocessSpec

SSR = SsrParams()
BINS = BinsParams()
PIP = PipParams(stride=32, meanface=(0.2, 0.2, 0.8, 0.8), neighbors=((1,), (0,)))  # 0 lists 1, 1 lists 0


def test_regression_scales_x_by_width_and_y_by_height():
    values = torch.tensor([[0.5, 0.25, 1.0, 0.0]])
    expected = torch.tensor([[[56.0, 16.0], [112.0, 0.0]]])
    torch.testing.assert_close(decode_regression(values, (112, 64)), expected)


def test_heatmap_argmax_quarter_step_and_cell_centre():
    maps = torch.zeros(1, 2, 8, 8)
    maps[0, 0, 2, 3], maps[0, 0, 2, 4] = 1.0, 0.5  # peak (col 3, row 2), right neighbour higher; rows tie
    maps[0, 1, 0, 7], maps[0, 1, 1, 7] = 1.0, 0.9  # peak in the corner: no step on x (border), none on y (border)
    decoded = decode_heatmap_argmax(maps, stride=4)
    # x = (3 + 0.25) * 4 + 1.5, y = 2 * 4 + 1.5; corner: x = 7 * 4 + 1.5, y = 0 * 4 + 1.5
    torch.testing.assert_close(decoded, torch.tensor([[[14.5, 9.5], [29.5, 1.5]]]))


def test_pip_merges_own_and_neighbour_predictions():
    score = torch.zeros(1, 2, 8, 8)
    score[0, 0, 1, 2] = 1.0  # landmark 0 at (col 2, row 1)
    score[0, 1, 6, 5] = 1.0  # landmark 1 at (col 5, row 6)
    offset_x, offset_y = torch.full_like(score, 0.5), torch.full_like(score, 0.25)
    nb_x, nb_y = torch.zeros_like(score), torch.zeros_like(score)
    nb_x[0, 0, 1, 2], nb_y[0, 0, 1, 2] = 3.5, 5.25  # landmark 0 predicts landmark 1 at (5.5, 6.25) cells
    nb_x[0, 1, 6, 5], nb_y[0, 1, 6, 5] = -3.0, -5.0  # landmark 1 predicts landmark 0 at (2, 1) cells
    decoded = decode_pip(score, offset_x, offset_y, nb_x, nb_y, PIP)
    own0, from1 = np.array([2.5, 1.25]), np.array([2.0, 1.0])
    own1, from0 = np.array([5.5, 6.25]), np.array([5.5, 6.25])
    expected = np.stack([(own0 + from1) / 2, (own1 + from0) / 2])[None] * 32
    np.testing.assert_allclose(decoded.numpy(), expected, atol=1e-5)


def test_bins_uniform_logits_give_the_middle_expectation():
    # mean bin index of 66 bins is 32.5 -> 3 * 32.5 - 99 = -1.5 (the -99 start is kept, field.md §2.5)
    torch.testing.assert_close(decode_bins(torch.zeros(1, 3, 66), BINS), torch.full((1, 3), -1.5))


def test_ssr_single_confident_stage():
    p = torch.zeros(1, 3, 3, 3)
    p[0, 0, :, 2] = 50.0  # stage 1 certain of bin 2 -> (2 - 1) / 3; later stages uniform -> 0
    decoded = decode_ssr(p, torch.zeros(1, 3, 3, 3), torch.zeros(1, 3, 3), SSR)
    torch.testing.assert_close(decoded, torch.full((1, 3), 33.0))


def test_ssr_scale_term_divides_by_one_plus_lambda_tanh_delta():
    p = torch.zeros(1, 3, 3, 3)
    p[0, 0, :, 2] = 50.0
    delta = torch.zeros(1, 3, 3)
    delta[0, 0] = float(np.arctanh(0.5))  # stage-1 divisor 3 * 1.5
    decoded = decode_ssr(p, torch.zeros(1, 3, 3, 3), delta, SSR)
    torch.testing.assert_close(decoded, torch.full((1, 3), 99.0 / 4.5))


@pytest.mark.parametrize("seed", [0, 1])
def test_random_tensors_match_numpy(seed):
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.randn(*shape, generator=generator)

    maps = rand(2, 5, 16, 16)
    np.testing.assert_allclose(decode_heatmap_argmax(maps, 4).numpy(),
                               heatmap_to_crop(heatmap_argmax(maps.numpy()), 4), atol=1e-5)
    logits = 3 * rand(2, 3, 66)
    np.testing.assert_allclose(decode_bins(logits, BINS).numpy(), bins(logits.numpy()), atol=1e-3)
    p, eta, delta = rand(2, 3, 3, 3), rand(2, 3, 3, 3), rand(2, 3, 3)
    np.testing.assert_allclose(decode_ssr(p, eta, delta, SSR).numpy(),
                               ssr(p.numpy(), eta.numpy(), delta.numpy(), (3, 3, 3)), atol=1e-3)
    pip_out = [rand(2, 2, 8, 8) for _ in range(5)]
    np.testing.assert_allclose(decode_pip(*pip_out, PIP).numpy(),
                               pip(*[o.numpy() for o in pip_out], 32, PIP.neighbors), atol=1e-4)


def test_differentiable_decodes_pass_gradients():
    logits = torch.zeros(1, 3, 66, requires_grad=True)
    decode_bins(logits, BINS).sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


TABLE_HEADS = {  # one head per kind of the decoder table that has a torch twin, and its input size
    "regression": (RegressionParams(5), (112, 96)), "pose_regression": (PoseRegressionParams(), (64, 64)),
    "heatmap_argmax": (HeatmapParams(5, stride=4), (64, 48)),
    "heatmap_dark": (HeatmapParams(5, stride=4, sigma=1.5), (64, 48)), "pip": (PIP, (256, 256)), "bins": (BINS, (112, 112)),
    "ssr": (SSR, (64, 64)),
}


def test_the_table_names_a_torch_twin_for_every_trained_kind():
    twins = {kind for kind, row in decoder_table().items() if row.torch is not None}
    assert twins == set(TABLE_HEADS)
    with pytest.raises(ValueError, match="no torch decoder for 'soft_argmax'"):
        decoder_table()["soft_argmax"].torch_decode()


@pytest.mark.parametrize("kind", sorted(TABLE_HEADS))
def test_every_torch_twin_matches_the_numpy_row(kind):
    params, size = TABLE_HEADS[kind]
    roles = decoder_table()[kind].roles
    spec = ModelSpec("t", decoder_table()[kind].task, PreprocessSpec(size), HeadSpec(kind, roles, params))
    generator = torch.Generator().manual_seed(3)
    outputs = [torch.randn(2, *shape, generator=generator) for shape in expected_outputs(spec)]
    np.testing.assert_allclose(decode_torch(outputs, spec).numpy(),
                               decode([o.numpy() for o in outputs], spec.head, size), rtol=1e-5, atol=1e-4)
