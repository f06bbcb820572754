"""User weights for `analyze` and `ui`: --weights / aliases / CARDIO_WEIGHTS
(command line wins), every problem named with its setting and file before
anything runs (exit 2), and reports that say which file every network
result was computed with (or that the file could not be read).

The end-to-end cases run in-process with retrieval off (the weights do not
touch retrieval) and restore the per-process tool instances afterwards."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import pytest

from agent.cli import EXIT_BAD_INPUT, EXIT_OK, main
from agent.weights import (ALIASES, ENV_VAR, WeightsError, collect_weights, parse_weight_args, parse_weight_env, resolve_weights,
                           sha256_cached)  # fmt: skip

REPO = Path(__file__).resolve().parents[2]
ECG = "ecg_analyze.classifier_weights"
CMR_CKPT = REPO / "experts" / "cmr" / "weights" / "cmr_unet2d.pt"


@pytest.fixture()
def restore_tools():
    """configure() patches the cached tool instances of this process: undo it."""
    yield
    from experts.registry import NoToolForModality, tool_for_name

    for key in ALIASES.values():
        try:
            tool = tool_for_name(key.split(".")[0])
        except NoToolForModality:
            continue
        vars(tool).pop("run", None)
        vars(tool).pop("_batch_base_run", None)


@pytest.fixture()
def ui_logging_restored():
    """`ui.cli.run` configures logging for the process: leave it as it was for later tests."""
    import logging

    ui_logger, root = logging.getLogger("cardioagent.ui"), logging.getLogger()
    level, handlers, root_level = ui_logger.level, list(root.handlers), root.level
    yield
    ui_logger.setLevel(level)
    root.handlers[:] = handlers
    root.setLevel(root_level)


@pytest.fixture()
def no_retrieval(monkeypatch, tmp_path):
    import agent.runner

    monkeypatch.setattr(agent.runner, "analyze", functools.partial(agent.runner.analyze, retrieval=False))
    monkeypatch.setenv("CARDIO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(ENV_VAR, raising=False)


# --- parsing and precedence ---------------------------------------------------------


def test_aliases_and_tool_options_parse_to_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    got = parse_weight_args(["ecgfounder=m/ecg.pth", "EchoNet-EF=/m/ef.pt", "echonet_seg=/m/seg.pt", "cmr=/m/cmr.pt",
                             "varnet=/m/v.pt", "echo_analyze.ef_weights=/m/ef2.pt"])  # fmt: skip
    assert got == {ECG: str(tmp_path / "m" / "ecg.pth"), "echo_analyze.ef_weights": "/m/ef2.pt",
                   "echo_analyze.segmentation_weights": "/m/seg.pt", "cmr_analyze.weights_path": "/m/cmr.pt",
                   "recon_reconstruct.weights": "/m/v.pt"}  # fmt: skip
    with pytest.raises(WeightsError, match=r"--weights 'ecgfounder': expected TOOL.OPTION=PATH or ALIAS=PATH.*aliases: cmr, ecgfounder"):
        parse_weight_args(["ecgfounder"])
    with pytest.raises(WeightsError, match=r"--weights 'ecgfounder=': expected"):
        parse_weight_args(["ecgfounder="])


def test_env_variable_separators_and_command_line_wins_per_setting():
    env = {ENV_VAR: " ecg_analyze.classifier_weights=/m/env-ecg.pth ;echonet-ef=/m/ef.pt\ncmr=/m/c.pt;; "}
    assert parse_weight_env(env[ENV_VAR]) == {ECG: "/m/env-ecg.pth", "echo_analyze.ef_weights": "/m/ef.pt", "cmr_analyze.weights_path": "/m/c.pt"}
    weights, origins = collect_weights(["ecgfounder=/m/flag-ecg.pth"], env)
    assert weights[ECG] == "/m/flag-ecg.pth"  # the flag wins ...
    assert weights["echo_analyze.ef_weights"] == "/m/ef.pt"  # ... only for the settings it gives
    assert origins == {ECG: "--weights", "echo_analyze.ef_weights": ENV_VAR, "cmr_analyze.weights_path": ENV_VAR}
    assert collect_weights([], {}) == ({}, {})
    with pytest.raises(WeightsError, match=f"{ENV_VAR} 'oops'"):
        collect_weights([], {ENV_VAR: "oops"})


def test_every_problem_names_its_setting_origin_and_file(tmp_path):
    real = tmp_path / "real.pth"
    real.write_bytes(b"x")
    weights, origins = collect_weights([f"ecgfounder={tmp_path / 'gone.pth'}", f"echo_analyze.qtc={real}"],
                                       {ENV_VAR: f"cmr={tmp_path};nope_tool.weights={real};varnet={tmp_path / 'v.pt'}"})  # fmt: skip
    with pytest.raises(WeightsError) as err:
        resolve_weights(weights, origins)
    msg = str(err.value)
    assert f"--weights {ECG}: weights file not found: {tmp_path / 'gone.pth'}" in msg
    assert "--weights echo_analyze.qtc: echo_analyze has no weights option 'qtc' (it has: ef_weights, segmentation_weights)" in msg
    assert f"{ENV_VAR} cmr_analyze.weights_path: not a file: {tmp_path}" in msg
    assert f"{ENV_VAR} nope_tool.weights: nope_tool: no expert tool" in msg
    assert f"{ENV_VAR} recon_reconstruct.weights: weights file not found: {tmp_path / 'v.pt'}" in msg


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_named(tmp_path):
    w = tmp_path / "locked.pth"
    w.write_bytes(b"x")
    w.chmod(0)
    try:
        with pytest.raises(WeightsError, match=rf"--weights {ECG}: cannot read .*locked\.pth"):
            resolve_weights({ECG: str(w)})
    finally:
        w.chmod(0o600)


# --- the commands refuse bad settings before anything runs ---------------------------------


def test_analyze_exits_2_naming_the_file_before_any_analysis(tmp_path, no_retrieval, capsys, monkeypatch):
    import agent.runner

    monkeypatch.setattr(agent.runner, "analyze", lambda *a, **k: pytest.fail("analysis started"))
    out = tmp_path / "out"
    rc = main(["analyze", str(REPO / "examples" / "ecg" / "ludb-1"), "--out", str(out), "--weights", f"ecgfounder={tmp_path / 'gone.pth'}"])
    err = capsys.readouterr().err
    assert rc == EXIT_BAD_INPUT and f"--weights {ECG}: weights file not found: {tmp_path / 'gone.pth'}" in err
    assert not out.exists()

    monkeypatch.setenv(ENV_VAR, f"echonet-ef={tmp_path / 'ef.pt'}")
    rc = main(["analyze", str(REPO / "examples" / "ecg" / "ludb-1"), "--out", str(out)])
    assert rc == EXIT_BAD_INPUT and f"{ENV_VAR} echo_analyze.ef_weights: weights file not found: {tmp_path / 'ef.pt'}" in capsys.readouterr().err

    monkeypatch.setenv(ENV_VAR, "ecg_analyze.no_such_option=/x.pth")
    assert main(["analyze", str(REPO / "examples" / "ecg" / "ludb-1"), "--out", str(out)]) == EXIT_BAD_INPUT
    assert "ecg_analyze has no weights option 'no_such_option'" in capsys.readouterr().err
    assert not out.exists()


def test_ui_exits_2_before_the_server_starts(tmp_path, monkeypatch, capsys, ui_logging_restored):
    import ui.app

    monkeypatch.setattr(ui.app, "launch_app", lambda *a, **k: pytest.fail("server started"))
    monkeypatch.setenv("CARDIO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(ENV_VAR, f"ecgfounder={tmp_path / 'env.pth'}")
    monkeypatch.delenv("CARDIO_UI_AUTH", raising=False)
    assert main(["ui", "--weights", f"cmr={tmp_path / 'cmr.pt'}"]) == 2
    err = capsys.readouterr().err
    assert f"{ENV_VAR} {ECG}: weights file not found: {tmp_path / 'env.pth'}" in err
    assert f"--weights cmr_analyze.weights_path: weights file not found: {tmp_path / 'cmr.pt'}" in err


def test_ui_applies_the_weights_to_its_tools(tmp_path, monkeypatch, restore_tools, ui_logging_restored):
    import ui.app
    from experts.registry import tool_for_name

    w = tmp_path / "ecgfounder.pth"
    w.write_bytes(b"x")
    started = []
    monkeypatch.setattr(ui.app, "launch_app", lambda *a, **k: started.append(a))
    monkeypatch.setenv("CARDIO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(ENV_VAR, f"ecgfounder={w}")
    monkeypatch.delenv("CARDIO_UI_AUTH", raising=False)
    assert main(["ui", "--share-dir", str(tmp_path / "cases")]) == 0 and started
    tool = tool_for_name("ecg_analyze")
    assert tool.run.func.__name__ == "_run_with_defaults" and tool.run.args[1] == {"classifier_weights": str(w)}


# --- reports say which weights were used ----------------------------------------------------


def test_analyze_with_unreadable_ecg_weights_still_reports_the_rule_based_ecg(tmp_path, no_retrieval, restore_tools, capsys):
    bad = tmp_path / "ecgfounder.pth"
    bad.write_bytes(b"not a checkpoint")
    out = tmp_path / "out"
    rc = main(["analyze", str(REPO / "examples" / "ecg" / "ludb-1"), "--out", str(out), "--formats", "json,md",
               "--weights", f"ecgfounder={bad}"])  # fmt: skip
    assert rc == EXIT_OK
    assert f"weights: {ECG} = {bad} (sha256 {sha256_cached(bad)[:16]}" in capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    (ecg,) = [s for s in report["sections"] if s["tool"] == "ecg_analyze"]
    assert any("cannot read ECGFounder weights ecgfounder.pth" in w for w in ecg["warnings"])
    note = f"User weights {ECG} = ecgfounder.pth (sha256 {sha256_cached(bad)[:16]}…): configured, but no result"
    assert any(w.startswith(note) for w in ecg["warnings"])
    names = {m["name"] for m in ecg["measurements"]}
    assert "heart_rate" in names or any(n.startswith("qt") for n in names)  # the rule-based ECG is reported
    assert not any(n.startswith("ecgfounder_") for n in names)
    assert ecg["statements"]
    md = (out / "report.md").read_text()
    assert "cannot read ECGFounder weights ecgfounder.pth" in md and note in md


@pytest.mark.skipif(not CMR_CKPT.is_file(), reason="embedded CMR checkpoint absent")
def test_analyze_names_the_user_cmr_checkpoint_and_its_hash(tmp_path, no_retrieval, restore_tools, monkeypatch):
    from experts.cmr.sim_files import write_dicom_series
    from tests.cmr.conftest import small_study

    series = tmp_path / "series"
    write_dicom_series(small_study(n_phases=6, n_slices=7), series, patient_sex="F")
    monkeypatch.setenv(ENV_VAR, f"cmr={tmp_path / 'overridden.pt'}")  # the flag wins over the environment
    out = tmp_path / "out"
    rc = main(["analyze", str(series), "--out", str(out), "--formats", "json,md,html", "--quiet", "--weights", f"cmr_analyze.weights_path={CMR_CKPT}"])
    assert rc == EXIT_OK
    digest = sha256_cached(CMR_CKPT)
    report = json.loads((out / "report.json").read_text())
    (cmr,) = [s for s in report["sections"] if s["tool"] == "cmr_analyze"]
    net = [m for m in cmr["measurements"] + cmr["statements"] if m["source"]["weights_sha256"] == digest]
    assert net and all("cmr_unet2d.pt" in m["source"]["model"] for m in net)  # every volume and finding names the file
    assert any(w.startswith(f"User weights cmr_analyze.weights_path = cmr_unet2d.pt (sha256 {digest[:16]}…): {len(net)} result")
               for w in cmr["warnings"])  # fmt: skip
    assert any(t["weights_sha256"] == digest and "cmr_unet2d.pt" in t["model"] for t in report["provenance"]["tools"])
    for fmt in ("md", "html"):
        text = (out / f"report.{fmt}").read_text()
        assert "cmr_unet2d.pt" in text and digest[:16] in text


def test_batch_reads_the_environment_too_and_names_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CARDIO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(ENV_VAR, f"varnet={tmp_path / 'varnet.pt'}")
    (tmp_path / "in" / "a").mkdir(parents=True)
    assert main(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--no-retrieval", "--quiet"]) == EXIT_BAD_INPUT
    assert f"{ENV_VAR} recon_reconstruct.weights: weights file not found: {tmp_path / 'varnet.pt'}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
