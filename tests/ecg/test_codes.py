"""The curated LOINC / SNOMED CT tables."""

from __future__ import annotations

import re

from experts.ecg.codes import LOINC_ECG, SNOMED_ECG, loinc, snomed
from experts.ecg.criteria_table import build_rules


def test_loinc_core_ecg_codes():
    expected = {
        "heart_rate": "8867-4", "pr_interval": "8625-6", "qrs_duration": "8633-0", "qt_interval": "8634-8",
        "qtc_bazett": "8636-3", "p_axis": "8626-4", "qrs_axis": "8632-2", "t_axis": "8638-9",
    }
    for name, code in expected.items():
        assert LOINC_ECG[name][0] == code
        c = loinc(name)
        assert c is not None and c.system == "http://loinc.org" and c.code == code
    assert loinc("r_amplitude_V5") is None  # no invented codes


def loinc_check_digit(body: str) -> int:
    """LOINC's mod-10 algorithm: the digits in odd positions from the right
    form a number that is doubled; the even-position digits are prefixed;
    the check digit brings the digit sum to the next multiple of 10."""
    rev = body[::-1]
    odd = int(rev[0::2]) * 2
    even = rev[1::2]
    total = sum(int(c) for c in even + str(odd))
    return (10 - total % 10) % 10


def test_loinc_check_digits():
    assert loinc_check_digit("12345") == 5  # LOINC's own worked example
    for code, _ in LOINC_ECG.values():
        body, check = code.split("-")
        assert loinc_check_digit(body) == int(check), code


def test_snomed_codes_are_sctids_and_rules_use_known_keys():
    for key, (code, display) in SNOMED_ECG.items():
        assert re.fullmatch(r"\d{6,18}", code) and display
        assert snomed(key).system == "http://snomed.info/sct"
    keys = {r.key for r in build_rules("framingham")}
    assert {"sinus_rhythm", "sinus_bradycardia", "lbbb", "rbbb", "long_qtc"} <= keys
