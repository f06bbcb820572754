"""Suite builders: labels → expectations (by hand on made-up rows and
headers, and on the real records when ../shared/data is present), the
synthetic generators' truth, and that cheap builders write valid cases."""

from __future__ import annotations

import pytest

from evals.harness.suite import SUITES, BuildContext, get_suite, load_built
from evals.suites import ecg_gen, ecg_real, smoke


def _by_key(statements: list[dict]) -> dict[str, str]:
    return {s.get("name") or s.get("id") or "|".join(s["any_of"]): s["status"] for s in statements}


def _row(**kw) -> dict:
    base = {"ID": "9", "Sex": "M", "Age": "60", "Rhythms": "Sinus rhythm", "Electric axis of the heart": "Electric axis of the heart: normal",
            "Conduction abnormalities": "", "Extrasystolies": "", "Hypertrophies": "", "Cardiac pacing": "", "Ischemia": "", "Other states": ""}  # fmt: skip
    return {**base, **kw}


def test_ludb_labels_to_expectations():
    st = _by_key(ecg_real.ludb_expectations(_row(
        Rhythms="Sinus bradycardia\n", **{"Electric axis of the heart": "Electric axis of the heart: left axis deviation",
                                          "Conduction abnormalities": "I degree av block\nLeft anterior hemiblock",
                                          "Extrasystolies": "Ventricular extrasystole, type: single pvc", "Hypertrophies": "Left ventricular hypertrophy",
                                          "Ischemia": "Stemi: anterior wall"})))  # fmt: skip
    assert st["sinus (any rate)"] == "present" and st["sinus_bradycardia"] == "present" and st["sinus_rhythm"] == "absent"
    # LUDB's "left axis deviation" starts near 0 deg, the AHA statement at -30 deg: not scored as that statement
    assert st["atrial_fibrillation"] == "absent" and "left_axis_deviation" not in st and st["right_axis_deviation"] == "absent"
    assert st["first_degree_av_block"] == "present" and st["lafb"] == "present" and st["lbbb"] == "absent"
    assert st["pvc"] == "present" and st["pac"] == "absent" and st["lvh_voltage"] == "present"
    assert st["ST elevation (any territory)"] == "present" and "pathological Q waves (any territory)" not in st  # ischaemia listed, no scar


def test_ludb_af_paced_and_higher_block():
    af = _by_key(ecg_real.ludb_expectations(_row(Rhythms="Atrial fibrillation")))
    assert af["atrial_fibrillation"] == "present" and af["sinus (any rate)"] == "absent" and "pac" not in af
    paced = _by_key(ecg_real.ludb_expectations(_row(**{"Cardiac pacing": "Unipolar ventricular pacing", "Conduction abnormalities": "Iii degree av-block"})))
    assert paced == {"atrial_fibrillation": "absent", "atrial_flutter": "absent"}  # a paced record keeps only the rhythm questions the label can answer
    block = _by_key(ecg_real.ludb_expectations(_row(**{"Conduction abnormalities": "Iii degree av-block"})))
    assert "first_degree_av_block" not in block  # complete block: first-degree is not a fair question


def test_cinc2020_header_to_expectations():
    header = "E1.mat 12 500 5000\n#Age: 76\n#Sex: Male\n#Dx: 428750005,39732003,427084000,713427006\n#Rx: Unknown\n"
    st, ctx, codes = ecg_real.cinc2020_expectations(header)
    k = _by_key(st)
    assert k["left_axis_deviation"] == "present" and k["sinus_tachycardia"] == "present" and k["rbbb"] == "present"  # 713427006 ≡ 59118001
    assert k["atrial_fibrillation"] == "absent" and k["lbbb"] == "absent"
    assert ctx == {"age": 76.0, "sex": "male"} and "428750005" in codes
    assert k["atrial_flutter"] == "absent"  # the tool has a flutter rule (session 2b); no flutter code in #Dx


def test_synthetic_truth_to_expectations():
    brady = ecg_gen.sinus(1, hr=45.0, pr_ms=230.0, qrs_ms=80.0, qt_ms=420.0)
    k = _by_key(ecg_gen.expectations(brady)["statements"])
    assert brady.truth["heart_rate"] < 50
    assert k["sinus_bradycardia"] == "present" and k["sinus_rhythm"] == "absent" and k["first_degree_av_block"] == "present"
    af = ecg_gen.atrial_fibrillation(2)
    e = ecg_gen.expectations(af)
    assert _by_key(e["statements"])["atrial_fibrillation"] == "present"
    assert "pr_interval" not in {m["name"] for m in e["measurements"]}  # no P wave, no PR truth
    lbbb = ecg_gen.lbbb_pattern(3)
    assert lbbb.truth["qrs_ms"] >= 150 and _by_key(ecg_gen.expectations(lbbb)["statements"])["lbbb"] == "present"
    assert brady.signals.shape == (12, 5000)


def _build(name: str, tmp_path, **kw):
    ctx = BuildContext(work_dir=tmp_path / name, **kw)
    ctx.work_dir.mkdir(parents=True)
    built = get_suite(name).build(ctx)
    return built, *load_built(built, name)


def test_cheap_builders_write_valid_cases(tmp_path):
    built, cases, skipped, bad = _build("ecg-synthetic", tmp_path, limit=3)
    assert [c.id for c in cases] == ["sinus-000", "sinus-001", "lbbb-002"] and not bad
    assert sorted(p.suffix for p in cases[0].inputs) == [".dat", ".hea"]
    assert any("reduced size" in n for n in built.notes)
    _b, cases, skipped, bad = _build("mirage", tmp_path)
    ids = {c.id for c in cases} | {s[0] for s in skipped}
    assert {"echo-only-in-notes", "injected-instructions", "notes-only", "truncated-ecg", "garbage-dicom", "blank-ecg", "blank-echo"} <= ids
    assert not bad
    _b, cases, _s, bad = _build("chat", tmp_path)
    assert {c.id for c in cases} == {"ludb-1-questions", "lbbb-questions"} and not bad
    assert all(c.spec.chat for c in cases)


def test_unknown_suite_and_folder_suite(tmp_path):
    with pytest.raises(KeyError, match="unknown suite"):
        get_suite("no-such-suite")
    from evals.harness.case import write_case

    write_case(tmp_path / "mine" / "a", {"inputs": ["repo:examples/ecg/ludb-1"], "description": "x"})
    suite = get_suite(str(tmp_path / "mine"))
    assert suite.name == "mine"
    cases, _s, _b = load_built(suite.build(BuildContext(work_dir=tmp_path)), suite.name)
    assert [c.qualified_id for c in cases] == ["mine/a"]


def test_smoke_picks_name_registered_suites():
    assert set(smoke.PICKS) <= set(SUITES) and set(smoke.FAST) <= set(smoke.PICKS)
    for suite, ids in smoke.FAST.items():
        assert set(ids) <= set(smoke.PICKS[suite])


def test_ecg_real_builds_from_the_shared_records(shared_data, tmp_path):
    built, cases, skipped, bad = _build("ecg-real", tmp_path, limit=1)
    assert not bad and not skipped
    ids = {c.id for c in cases}
    assert {"ludb-1", "mitdb-100", "ptb-s0010_re"} <= ids and any(i.startswith("cinc2017-") for i in ids)
    mit = next(c for c in cases if c.id == "mitdb-100")
    k = {s.key: s.status for s in mit.spec.expected.statements}
    assert k["pvc"] == "present" and k["pac"] == "present" and k["nsvt"] == "absent" and k["atrial_fibrillation"] == "absent"
    hr = mit.spec.expected.measurements[0]
    assert hr.name == "heart_rate" and 70 < hr.value < 80  # about 2270 reference beats in 30 min
    ludb = next(c for c in cases if c.id == "ludb-1")
    assert {m.name for m in ludb.spec.expected.measurements} == {"pr_interval", "qrs_duration", "qt_interval"}
