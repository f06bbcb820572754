"""AF episodes through brief artefact and short regular stretches.

Truth for the real-record test: CinC 2017 REFERENCE.csv label 'A' (whole
record AF); session 1 left A00137 'indeterminate' because its noisy first
and last seconds cut the episode to ~24 s.
"""

from __future__ import annotations

import numpy as np

from experts.core.tool import ToolRequest
from experts.ecg.episodes import find_episodes
from experts.ecg.tool import ECGTool
from tests.ecg.helpers import wfdb_study


def _af_like(n: int, seed: int = 0, fs: float = 300.0):
    rng = np.random.default_rng(seed)
    rr = rng.uniform(0.45, 1.05, n - 1)  # irregularly irregular, 30 s of ~0.75 s beats
    r = np.concatenate([[0.3], 0.3 + np.cumsum(rr)]) * fs
    return r.astype(int), fs, float(r[-1] / fs + 0.3)


def test_artefact_at_both_ends_does_not_cut_the_episode():
    r, fs, dur = _af_like(42)
    labels = np.array(["N"] * r.size, dtype="<U1")
    labels[:3] = "Q"
    labels[-1] = "Q"
    ep = find_episodes(r, fs, labels, np.zeros(r.size, dtype=bool), None, dur)
    assert len(ep.af) == 1 and ep.af[0].start_s == 0.0 and abs(ep.af[0].end_s - dur) < 1e-9


def test_mostly_artefact_window_is_not_af():
    r, fs, dur = _af_like(42)
    labels = np.array(["Q"] * r.size, dtype="<U1")
    ep = find_episodes(r, fs, labels, np.zeros(r.size, dtype=bool), None, dur)
    assert not ep.af


def test_p_waves_in_a_gap_end_the_episode_and_regular_rr_without_p_does_not():
    fs = 300.0
    rng = np.random.default_rng(3)
    rr = np.concatenate([rng.uniform(0.45, 1.05, 24), np.full(16, 0.8), rng.uniform(0.45, 1.05, 24)])
    r = (np.concatenate([[0.3], 0.3 + np.cumsum(rr)]) * fs).astype(int)
    labels = np.array(["N"] * r.size, dtype="<U1")
    no_p = np.zeros(r.size, dtype=bool)
    one = find_episodes(r, fs, labels, no_p, None, r[-1] / fs + 0.3)
    with_p = no_p.copy()
    with_p[22:44] = True  # sinus P waves through the regular stretch: AF stopped
    two = find_episodes(r, fs, labels, with_p, None, r[-1] / fs + 0.3)
    assert len(one.af) == 1  # regular RR without P waves between two AF runs: still one episode
    assert len(two.af) == 2  # with P waves (sinus) in between: two


def test_cinc2017_af_record_with_noisy_edges_is_af(shared_data, tmp_path):
    res = ECGTool().run(ToolRequest(study=wfdb_study(shared_data / "ecg" / "cinc2017", "A00137"), output_dir=str(tmp_path),
                                    options={"make_plot": False}))  # fmt: skip
    st = {s.id.split(".", 1)[1]: s for s in res.statements}
    assert st["atrial_fibrillation"].status == "present"
    longest = next(m for m in res.measurements if m.name == "af_longest_episode")
    assert longest.value >= 30.0
