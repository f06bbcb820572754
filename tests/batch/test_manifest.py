"""Manifest validation: the whole input is checked first and every problem
is listed at once; a bad manifest runs nothing and writes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent.batch.manifest import ManifestError, load_cases
from tests.batch.make_cases import add_good_case, dicom_ecg_path

REPO = Path(__file__).resolve().parents[2]
LUDB = REPO / "examples" / "ecg" / "ludb-1"


def test_folder_of_case_folders_with_context_file(tmp_path):
    add_good_case(tmp_path, "a1", "ludb-1", context={"age": 51, "sex": "F", "height_cm": 165, "weight_kg": 70})
    add_good_case(tmp_path, "b2", "dicom-ecg")
    cases = load_cases(tmp_path)
    assert [c.case_id for c in cases] == ["a1", "b2"]
    a1 = cases[0]
    assert a1.context.patient.sex == "female" and a1.context.patient.age_years == 51
    names = {Path(f).name for f in a1.files}
    assert "1.hea" in names and "context.txt" in names  # notes files stay inputs (the intake reads them as notes)
    assert "context.json" not in names  # structured context is not an input file
    assert cases[1].context.patient.sex is None


def test_folder_problems_listed_together(tmp_path):
    (tmp_path / "loose.hea").write_text("x")
    (tmp_path / "empty-case").mkdir()
    bad_ctx = tmp_path / "c3"
    add_good_case(tmp_path, "c3", "ludb-1", context={"age": 400, "sex": "X"})
    (tmp_path / "bad id!").mkdir()
    with pytest.raises(ManifestError) as err:
        load_cases(tmp_path)
    lines = [p.line() for p in err.value.problems]
    assert any("loose.hea" in ln and "own folder" in ln for ln in lines)
    assert any("empty-case" in ln and "no input files" in ln for ln in lines)
    assert any("bad id!" in ln and "case id" in ln for ln in lines)
    assert any(f"{bad_ctx.name}/context.json" in ln and "sex" in ln for ln in lines)
    assert len(lines) == 4


def test_linked_data_folder_gets_a_hint(tmp_path):
    (tmp_path / "cases" / "c1").mkdir(parents=True)
    (tmp_path / "cases" / "c1" / "ecg").symlink_to(LUDB, target_is_directory=True)
    with pytest.raises(ManifestError) as err:
        load_cases(tmp_path / "cases")
    assert "symbolic links to folders are not followed: ecg" in err.value.problems[0].problem
    (tmp_path / "m.csv").write_text("case_id,files\nc1,cases/c1/ecg\n")  # a manifest may name the link
    (case,) = load_cases(tmp_path / "m.csv")
    assert case.files == [str(LUDB.resolve())]


def test_csv_manifest_lists_every_problem(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "case_id,files,age,sex,height_cm,weight_kg,indication,notes\n"
        f"ok1,{LUDB}/1.hea;{LUDB}/1.dat,51,F,165,70,syncope,Dizzy on standing.\n"
        f"ok1,{dicom_ecg_path()},,,,,,\n"  # duplicate id
        "missing,nowhere/rec.hea,abc,Q,,,,\n"  # missing file, bad age, bad sex
        f"bad id,{dicom_ecg_path()},,,,,,\n"  # unsafe id
        ",,,,,,,\n"  # blank line: ignored
        f"noid2,,,,,,,\n"  # empty files
    )
    with pytest.raises(ManifestError) as err:
        load_cases(manifest)
    text = "\n".join(p.line() for p in err.value.problems)
    assert "m.csv line 3 (case ok1): duplicate case_id (first declared at m.csv line 2)" in text
    assert "m.csv line 4 (case missing): nowhere/rec.hea: no such file or folder" in text
    assert "age must be a number, got 'abc'" in text
    assert "sex must be female/male" in text
    assert "m.csv line 5 (case bad id): case_id must be" in text
    assert "m.csv line 7 (case noid2): files is empty" in text
    assert len(err.value.problems) == 6


def test_csv_unknown_column_and_relative_paths(tmp_path):
    data = tmp_path / "data"
    add_good_case(data, "rec", "ludb-1")
    (tmp_path / "m.csv").write_text("case_id,files,agee\nx,data/rec,50\n")
    with pytest.raises(ManifestError) as err:
        load_cases(tmp_path / "m.csv")
    assert "unknown column(s) 'agee'" in err.value.problems[0].problem
    (tmp_path / "m2.csv").write_text("case_id,files,age,sex\nx,data/rec,50,M\n")
    (case,) = load_cases(tmp_path / "m2.csv")
    assert case.files == [str((data / "rec").resolve())] and case.context.patient.sex == "male"


def test_jsonl_manifest(tmp_path):
    ctx = tmp_path / "ctx.yaml"
    ctx.write_text("age: 63\nsex: male\nindication: chest pain\n")
    lines = [
        {"case_id": "j1", "files": [str(LUDB / "1.hea"), str(LUDB / "1.dat")], "context": "ctx.yaml", "notes": "Known hypertension."},
        {"case_id": "j2", "files": str(dicom_ecg_path()), "weight_kg": 80, "height_cm": 180},
    ]
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    j1, j2 = load_cases(tmp_path / "m.jsonl")
    assert j1.context.patient.age_years == 63 and j1.context.indication == "chest pain"
    assert j1.context.notes == "Known hypertension."
    assert j2.context.patient.bsa_m2() is not None
    (tmp_path / "bad.jsonl").write_text('{"case_id": "a", "files": ["x"]}\nnot json\n[1, 2]\n')
    with pytest.raises(ManifestError) as err:
        load_cases(tmp_path / "bad.jsonl")
    text = "\n".join(p.line() for p in err.value.problems)
    assert "line 1 (case a): x: no such file or folder" in text
    assert "line 2: not valid JSON" in text and "line 3: each line must be a JSON object" in text


def test_cli_bad_manifest_exits_2_and_writes_nothing(tmp_path):
    (tmp_path / "m.csv").write_text("case_id,files,sex\na,missing1.hea,F\nb,missing2.hea,Z\n")
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "agent.cli", "batch", str(tmp_path / "m.csv"), "--out", str(out)],
                       capture_output=True, text=True, cwd=REPO, env={"CARDIO_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert r.returncode == 2, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 3  # missing1, missing2, bad sex: all listed
    assert "3 problem(s)" in r.stderr and "nothing was run" in r.stderr
    assert not out.exists()


@pytest.mark.slow  # renders a full simulated cine series (~10 s); the benchmark is its consumer
def test_mixed_benchmark_cases_cover_every_imaging_modality(tmp_path):
    """The throughput benchmark's mixed batch really is mixed: the intake
    routes its echo and CMR cases to those modalities, not to ECG."""
    from agent.intake.group import intake
    from tests.batch.make_cases import MIXED_RECORDS, make_case_folders

    root = tmp_path / "in"
    ids = make_case_folders(root, len(MIXED_RECORDS), bad=(), records=MIXED_RECORDS)
    cases = {c.case_id: c for c in load_cases(root)}
    assert sorted(cases) == ids
    modalities = {cid: {s.modality.value for s in intake(c.files).studies} for cid, c in cases.items()}
    by_record = {cid.split("-", 1)[1]: m for cid, m in modalities.items()}
    assert by_record["echo-dicom"] == {"echo"}
    assert by_record["cmr-dicom-sim"] == {"cmr"}
    assert by_record["dicom-ecg"] == {"ecg"} and by_record["ludb-1"] == {"ecg"}
    assert not (root / "in-sources").exists() and (tmp_path / "in-sources").is_dir()  # the series cache sits beside the cases
