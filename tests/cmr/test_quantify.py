"""Volumes, EF and mass from known labels; slice rules; non-diagnostic cases."""

from dataclasses import replace

import numpy as np
import pytest

from experts.cmr.labels import LV, MYO
from experts.cmr.quantify import quantify, ring_fraction
from experts.cmr.simulate import label_volumes


def test_volumes_from_exact_labels_match_disc_summation(sim_small):
    fn = quantify(sim_small.labels, sim_small.stack)
    assert not fn.problems
    truth = label_volumes(sim_small.labels, sim_small.stack)
    # the basal-slice rule may drop an atrial/outflow slice; everything else is counted
    assert fn.values["lv_edv"] == pytest.approx(truth["lv"].max(), rel=0.08)
    assert fn.values["lv_esv"] == pytest.approx(truth["lv"].min(), rel=0.12)
    assert fn.values["lvef"] == pytest.approx(100 * (fn.values["lv_edv"] - fn.values["lv_esv"]) / fn.values["lv_edv"])
    assert fn.values["lv_mass"] == pytest.approx(1.05 * fn.curves.myo_ml[fn.ed])
    assert fn.values["rv_edv"] == pytest.approx(truth["rv"].max(), rel=1e-6)
    assert 0 < fn.values["rvef"] < 100
    assert fn.curves.lv_ml[fn.ed] == fn.curves.lv_ml.max()


def test_basal_slice_rule_excludes_a_pool_without_myocardium():
    ring = np.zeros((64, 64), bool)
    yy, xx = np.mgrid[0:64, 0:64]
    r = np.hypot(yy - 32, xx - 32)
    pool, wall = r < 10, (r >= 10) & (r < 15)
    assert ring_fraction(pool, wall) > 0.95
    half = wall & (xx < 32)
    assert ring_fraction(pool, half) < 0.6
    assert ring_fraction(pool, ring) == 0.0


def test_single_phase_and_single_slice_give_problems_not_numbers(sim_small):
    one_phase = replace(sim_small.stack, images=sim_small.stack.images[:1])
    fn = quantify(sim_small.labels[:1], one_phase)
    assert fn.problems and "one cardiac phase" in fn.problems[0] and not fn.values
    one_slice = replace(sim_small.stack, images=sim_small.stack.images[:, 4:5], slice_positions_mm=np.array([0.0]))
    fn = quantify(sim_small.labels[:, 4:5], one_slice)
    assert any("single slice" in p for p in fn.problems) and not fn.values


def test_elongated_cavity_reads_as_long_axis(sim_small):
    T, Z, H, W = sim_small.labels.shape
    lab = np.zeros((T, Z, H, W), np.uint8)
    yy, xx = np.mgrid[0:H, 0:W]
    for t in range(T):
        a = 30 - t  # a long thin ellipse contracting over time
        e = ((yy - 56) / a) ** 2 + ((xx - 56) / 8) ** 2
        lab[t, :, (e < 1.6)] = MYO
        lab[t, :, (e < 1)] = LV
    fn = quantify(lab, sim_small.stack)
    assert any("long-axis" in p for p in fn.problems)


def test_myocardium_only_slices_count_only_as_a_cap_next_to_the_cavity(sim_small):
    """An apical cap next to the cavity is LV mass; 'myocardium' two slices
    beyond the last cavity is not."""
    lab = sim_small.labels.copy()
    fn0 = quantify(lab, sim_small.stack)
    with_cavity = np.nonzero(fn0.curves.lv_included[fn0.ed] & (lab[fn0.ed] == LV).any(axis=(1, 2)))[0]
    last = int(with_cavity.max()) - 2  # cut the ventricle short: two free slices beyond its cavity
    assert last >= int(with_cavity.min()) + 2
    lab[:, last + 1 :] = 0
    lab[:, last + 1, 40:50, 40:50] = MYO  # cap, next to the cavity
    lab[:, last + 2, 40:50, 40:50] = MYO  # far from it
    fn = quantify(lab, sim_small.stack)
    assert fn.curves.lv_included[fn.ed, last + 1] and not fn.curves.lv_included[fn.ed, last + 2]
    assert (fn.ed, last + 2) in fn.curves.excluded_basal
    px_ml = np.prod(sim_small.stack.pixel_spacing_mm) / 1000.0
    cap_ml = 100 * px_ml * sim_small.stack.slice_weights_mm()[last + 1]
    base = quantify(np.where(np.arange(lab.shape[1])[None, :, None, None] > last, 0, lab).astype(lab.dtype), sim_small.stack)
    assert fn.values["lv_mass"] == pytest.approx(base.values["lv_mass"] + 1.05 * cap_ml)
