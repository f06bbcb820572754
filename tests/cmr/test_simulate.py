import numpy as np

from experts.cmr.labels import LV, MYO, RV
from experts.cmr.simulate import contraction, label_volumes
from tests.cmr.conftest import small_study


def test_contraction_curve_shape():
    tau = np.linspace(0, 1, 101)
    c = contraction(tau, 0.35)
    assert c[0] == 0 and abs(c.max() - 1) < 1e-6
    assert abs(tau[np.argmax(c)] - 0.35) < 0.011
    assert c[-1] < 0.01  # back to end-diastole


def test_simulated_stack_has_all_structures_and_geometry(sim_small):
    st = sim_small.stack
    assert st.images.shape == sim_small.labels.shape == (10, 9, 112, 112)
    assert np.isfinite(st.images).all() and st.images.max() > 0
    assert st.slice_spacing_mm == 10.0
    present = {int(v) for v in np.unique(sim_small.labels)}
    assert {LV, MYO, RV} <= present
    # blood is bright and myocardium dark, as in bSSFP
    img, lab = st.images[0], sim_small.labels[0]
    assert np.median(img[lab == LV]) > 2 * np.median(img[lab == MYO])


def test_ejection_fraction_follows_the_chosen_one():
    for ef in (0.3, 0.6):
        sim = small_study(seed=3, lv_ef=ef, n_phases=12)
        lv = label_volumes(sim.labels, sim.stack)["lv"]
        measured = (lv.max() - lv.min()) / lv.max()
        # slice sampling and base descent make it approximate
        assert abs(measured - ef) < 0.12, (ef, measured)
    myo = label_volumes(sim.labels, sim.stack)["myo"]
    assert myo.std() / myo.mean() < 0.15  # myocardium keeps (roughly) its volume
