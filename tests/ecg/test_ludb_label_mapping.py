"""How LUDB's ludb.csv labels become expectations in the ecg-real suite.

Two mappings were wrong in session 1: "supp.nstemi" matched "stemi:", and
LUDB's "left axis deviation" (below ~0°, its convention) was scored as the
AHA's (−30° to −90°)."""

from __future__ import annotations

from evals.suites.ecg_real import ludb_expectations


def _row(**over) -> dict:
    row = {"Rhythms": "Sinus rhythm", "Electric axis of the heart": "Electric axis of the heart: normal", "Conduction abnormalities": "",
           "Extrasystolies": "", "Hypertrophies": "", "Cardiac pacing": "", "Ischemia": "", "Other states": ""}  # fmt: skip
    row.update(over)
    return row


def _status(st: list[dict], key: str) -> str | None:
    return next((e["status"] for e in st if e.get("id") == key), None)


def test_suspected_nstemi_is_not_an_st_elevation_label():
    st = ludb_expectations(_row(Ischemia="Undefined ischemia/scar/supp.nstemi: inferior wall"))
    assert _status(st, "st_elevation_*") is None  # neither present nor absent: ischaemia of some kind is labelled
    st = ludb_expectations(_row(Ischemia="STEMI: anterior wall\nSTEMI: septal"))
    assert _status(st, "st_elevation_*") == "present"
    assert _status(ludb_expectations(_row()), "st_elevation_*") == "absent"


def test_ludb_left_axis_deviation_is_not_the_aha_one():
    st = ludb_expectations(_row(**{"Electric axis of the heart": "Electric axis of the heart: left axis deviation"}))
    assert _status(st, "left_axis_deviation") is None and _status(st, "right_axis_deviation") == "absent"
    st = ludb_expectations(_row(**{"Electric axis of the heart": "Electric axis of the heart: horizontal"}))
    assert _status(st, "left_axis_deviation") == "absent"
    st = ludb_expectations(_row(**{"Electric axis of the heart": "Electric axis of the heart: right axis deviation"}))
    assert _status(st, "right_axis_deviation") == "present"
