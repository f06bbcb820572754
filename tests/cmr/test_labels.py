import numpy as np
import pytest

from experts.cmr.labels import LV, MYO, RV, contours_to_labels, from_canonical, polygon_mask, to_canonical


def test_acdc_round_trip_swaps_lv_and_rv():
    acdc = np.array([[0, 1, 2, 3]])
    canon = to_canonical(acdc, "acdc")
    assert canon.tolist() == [[0, RV, MYO, LV]]
    assert from_canonical(canon, "acdc").tolist() == acdc.tolist()


def test_unknown_label_values_are_refused():
    with pytest.raises(ValueError, match="not part of the acdc convention"):
        to_canonical(np.array([0, 4]), "acdc")


def test_polygon_mask_area_matches_circle():
    t = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    xy = np.column_stack([50 + 20 * np.cos(t), 40 + 20 * np.sin(t)])
    mask = polygon_mask((100, 100), xy)
    assert abs(mask.sum() - np.pi * 400) / (np.pi * 400) < 0.02
    rows, cols = np.nonzero(mask)
    assert abs(rows.mean() - 40) < 0.5 and abs(cols.mean() - 50) < 0.5  # x is the column


def test_contours_make_a_ring_of_myocardium():
    t = np.linspace(0, 2 * np.pi, 100, endpoint=False)
    endo = np.column_stack([32 + 10 * np.cos(t), 32 + 10 * np.sin(t)])
    epi = np.column_stack([32 + 15 * np.cos(t), 32 + 15 * np.sin(t)])
    lab = contours_to_labels((64, 64), endo=endo, epi=epi)
    assert lab[32, 32] == LV and lab[32, 32 + 12] == MYO and lab[0, 0] == 0
