"""Statements from measurements: the LV-mass statement of a model known to
overestimate mass is never 'present'."""

from experts.cmr.findings import statements
from experts.cmr.reference import reference_range
from experts.core.types import Evidence, Measurement, Source

SOURCE = Source(tool="cmr_analyze", version="test")


def _mass_index(value: float) -> dict[str, Measurement]:
    m = Measurement(
        id="s.lv_mass_index",
        name="lv_mass_index",
        label="LV mass indexed to BSA",
        value=value,
        unit="g/m2",
        method="test",
        source=SOURCE,
        evidence=Evidence(file="1.dcm"),
    )
    return {"lv_mass_index": m}


def _mass_statement(value: float, overestimated: bool):
    out = statements(_mass_index(value), "male", "s", SOURCE, mass_overestimated=overestimated)
    (st,) = [s for s in out if s.id == "s.lv_mass_index_increased"]
    return st


def test_increased_mass_from_a_model_that_overestimates_it_is_indeterminate():
    limit = reference_range("lv_mass_index", "male").high
    high, low = limit + 20, limit - 20
    assert _mass_statement(high, overestimated=False).status == "present"
    st = _mass_statement(high, overestimated=True)
    assert st.status == "indeterminate" and "overestimates" in st.explanation
    assert st.criteria[0].met and st.criteria[0].threshold == limit  # the arithmetic is still shown
    # a biased-high value under the limit is under it: "absent" stands
    assert _mass_statement(low, overestimated=True).status == "absent"


def test_mass_from_the_embedded_model_is_limited_and_never_flagged_high():
    from experts.cmr.tool import _mass_known_high

    rr = reference_range("lv_mass_index", "male")
    high = _mass_index(rr.high + 20)["lv_mass_index"].model_copy(update={"reference_range": rr, "flag": "high"})
    normal = _mass_index(rr.high - 20)["lv_mass_index"].model_copy(update={"reference_range": rr, "flag": "normal"})
    out = _mass_known_high({"lv_mass_index": high})["lv_mass_index"]
    assert out.flag is None and out.quality == "limited" and out.reference_range == rr and out.value == high.value
    assert _mass_known_high({"lv_mass_index": normal})["lv_mass_index"].flag == "normal"
