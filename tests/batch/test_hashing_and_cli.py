"""What makes a finished case skippable (content and configuration hashes),
and the command line's usage errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from agent.batch.hashing import configuration, configuration_hash, input_hash
from agent.batch.manifest import load_cases
from agent.case import ClinicalContext
from tests.batch.make_cases import add_good_case

REPO = Path(__file__).resolve().parents[2]


def test_input_hash_follows_content_and_context_not_names(tmp_path):
    add_good_case(tmp_path / "a", "c1", "macecgdb-test01_00s", copy=True)
    shutil.copytree(tmp_path / "a" / "c1", tmp_path / "b" / "renamed")
    (c1,) = load_cases(tmp_path / "a")
    (moved,) = load_cases(tmp_path / "b")
    assert input_hash(c1) == input_hash(moved)  # a copied study is the same study
    other_context = c1.model_copy(update={"context": ClinicalContext(indication="syncope")})
    assert input_hash(other_context) != input_hash(c1)
    dat = tmp_path / "b" / "renamed" / "test01_00s.dat"
    data = bytearray(dat.read_bytes())
    data[100] ^= 0xFF
    dat.write_bytes(bytes(data))
    assert input_hash(load_cases(tmp_path / "b")[0]) != input_hash(c1)  # an edited one is not


def test_configuration_hash_covers_what_changes_a_report():
    base = configuration(("json", "html"), "rules", False, False)
    assert any(t["tool"] == "ecg_analyze" and t["version"] for t in base["tools"])
    h = configuration_hash(base)
    assert h == configuration_hash(configuration(("html", "json"), "rules", False, False))  # order does not matter
    assert h != configuration_hash(configuration(("json", "html", "pdf"), "rules", False, False))
    assert h != configuration_hash(configuration(("json", "html"), "rules", True, False))
    with_retrieval = configuration(("json", "html"), "rules", False, True)
    assert with_retrieval["corpus_sha256"] and configuration_hash(with_retrieval) != h


def test_cli_usage_errors_exit_2(tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "agent.cli", "batch", *map(str, args)], capture_output=True, text=True, cwd=REPO,
                              env={"CARDIO_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"})  # fmt: skip

    h = cli("--help")
    assert h.returncode == 0
    for word in ("--resume", "--engine", "--ray-address", "--formats", "--timeout", "--no-retrieval", "exit codes", "case.done.json"):
        assert word in h.stdout
    add_good_case(tmp_path / "in", "a", "dicom-ecg")
    r = cli(tmp_path / "in", "--out", tmp_path / "out", "--formats", "json,docx")
    assert r.returncode == 2 and "unknown format(s): docx" in r.stderr
    r = cli(tmp_path / "in", "--out", tmp_path / "out", "--workers", "0")
    assert r.returncode == 2 and "--workers" in r.stderr
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    r = cli(tmp_path / "in", "--out", tmp_path / "mine")
    assert r.returncode == 2 and "not a CardioAgent batch folder" in r.stderr
    assert not (tmp_path / "out").exists()
