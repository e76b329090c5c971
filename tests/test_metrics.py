import numpy as np
import pytest

from edgekit.errors import DataError
from edgekit.metrics import ced_plot, fr_auc, landmark_summary, nme, pose_mae


def two_images() -> tuple[np.ndarray, np.ndarray]:
    """Hand case: image 0 has eye corners 36 / 45 20 px apart and one point off by (3, 4) = 5 px;
    image 1 has them 10 px apart, every point off by 1 px in x, and point 0 not annotated."""
    gt = np.zeros((2, 68, 2))
    gt[:, :, 0] = np.arange(68)
    gt[0, 36], gt[0, 45] = (0, 0), (20, 0)
    gt[1, 36], gt[1, 45] = (0, 0), (0, 10)
    pred = gt.copy()
    pred[0, 3] += (3, 4)
    pred[1] += (1, 0)
    gt[1, 0] = np.nan
    return pred, gt


def test_nme_inter_ocular_hand_computed():
    pred, gt = two_images()
    # image 0: 5 / 68 / 20; image 1: 67 points off by 1 -> mean 1, / 10
    np.testing.assert_allclose(nme(pred, gt), [5 / 68 / 20, 0.1])


def test_nme_inter_pupil_and_box():
    gt = np.zeros((1, 68, 2))
    gt[0, 36:42] = (0, 0)
    gt[0, 42:48] = (30, 40)  # pupils 50 px apart
    gt[0, 0], gt[0, 1] = (-10, -20), (40, 60)  # bbox 50 x 80
    pred = gt + (2, 0)
    np.testing.assert_allclose(nme(pred, gt, norm="inter_pupil"), [2 / 50])
    np.testing.assert_allclose(nme(pred, gt, norm="box"), [2 / np.sqrt(50 * 80)])


def test_nme_nan_prediction_and_missing_normalizer_give_nan():
    pred, gt = two_images()
    pred[0, 5] = np.nan
    gt[1, 45] = np.nan
    assert np.isnan(nme(pred, gt)).all()


def test_nme_rejects_mismatched_shapes_and_unknown_norm():
    with pytest.raises(DataError):
        nme(np.zeros((1, 68, 2)), np.zeros((1, 67, 2)))
    with pytest.raises(DataError, match="normalization"):
        nme(np.zeros((1, 68, 2)), np.zeros((1, 68, 2)), norm="diagonal")


def test_fr_auc_reference_cases():
    assert fr_auc(np.zeros(10)) == pytest.approx((0.0, 1.0), abs=1e-3)
    fr, auc = fr_auc(np.array([0.05, 0.2]))
    assert fr == 0.5
    assert auc == pytest.approx(0.5 * 0.05 / 0.1, abs=1e-3)  # CED is 0.5 from 0.05 to 0.1
    assert fr_auc(np.array([0.05, np.nan]))[0] == 0.5  # NaN counts as a failure


def test_fr_auc_matches_pipnet_loop():
    from scipy.integrate import simpson

    nmes = np.random.default_rng(3).uniform(0, 0.15, size=200)
    xs = np.arange(0, 0.1 + 1e-4, 1e-4)
    ys = np.array([np.count_nonzero(nmes <= x) for x in xs]) / len(nmes)
    assert fr_auc(nmes) == pytest.approx((1 - ys[-1], simpson(ys, x=xs) / 0.1))


def test_landmark_summary_in_percent():
    summary = landmark_summary(np.array([0.05, 0.2]))
    assert summary["nme"] == pytest.approx(12.5) and summary["fr"] == 50.0 and summary["count"] == 2
    assert summary["auc"] == pytest.approx(0.25, abs=1e-3)


def test_ced_plot_writes_a_png(tmp_path):
    path = ced_plot({"fp32": np.array([0.02, 0.04]), "int8": np.array([0.03, 0.12])}, tmp_path / "out" / "ced.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["ced.png"]  # no temp file left behind


def test_pose_mae_drops_out_of_range_ground_truth():
    gt = np.array([[10, 0, 0], [-20, 5, 5], [120, 0, 0]], float)
    pred = np.array([[12, 1, -3], [-20, 1, 5], [0, 0, 0]], float)
    result = pose_mae(pred, gt)
    assert result == pytest.approx({"yaw": 1.0, "pitch": 2.5, "roll": 1.5, "mae": 5 / 3, "count": 2, "dropped": 1})
    with pytest.raises(DataError):
        pose_mae(pred[:, :2], gt[:, :2])
