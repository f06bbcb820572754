"""Known gap, kept visible: third-degree AV block cannot be recognised yet
because the beat detector counts dissociated P waves as beats (synthetic
complete AV dissociation, experts/ecg/synthetic.py dissociated_atrial_rate).
When the detector is fixed this test passes and strict xfail turns it red,
as a reminder to build the AV-block rule on it.
"""

from __future__ import annotations

import pytest

from experts.ecg.synthetic import synthesize
from tests.ecg.test_qt_reliability import analyse


@pytest.mark.xfail(strict=True, reason="known gap (session 2b): with P waves dissociated from the QRS (third-degree AV block) "
                   "the beat detector also counts P waves as beats, so no AV-block rule can be built on it yet")
def test_complete_av_dissociation_keeps_the_escape_rate():
    sig, names, _ = synthesize(hr=40.0, dissociated_atrial_rate=80.0, qt_ms=440.0, seed=1)
    an = analyse(sig, names)
    assert abs(an.measurements.items["heart_rate"].value - 40.0) < 5
