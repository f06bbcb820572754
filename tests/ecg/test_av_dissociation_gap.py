"""Former gap (session 2b), now a regression test: with P waves dissociated
from the QRS (third-degree AV block, experts/ecg/synthetic.py
dissociated_atrial_rate) the beat detector counted the P waves as beats.
Since session 3 detections whose steepest slope is far below the dominant
QRS's are dropped (beats.py `_drop_slow_deflections`), so the rate is the
escape rate.
"""

from __future__ import annotations

from experts.ecg.synthetic import synthesize
from tests.ecg.test_qt_reliability import analyse


def test_complete_av_dissociation_keeps_the_escape_rate():
    sig, names, _ = synthesize(hr=40.0, dissociated_atrial_rate=80.0, qt_ms=440.0, seed=1)
    an = analyse(sig, names)
    assert abs(an.measurements.items["heart_rate"].value - 40.0) < 5
