"""The UI's plain-Python parts: staging uploads, the case index, settings,
the progress log, the report panel on a real ECG report, auth parsing and
the LLM check shown in Settings."""

from __future__ import annotations

import json

import pytest

from agent.report import Report
from tests.ui.conftest import LUDB
from ui.cli import parse_auth
from ui.progress import ProgressLog
from ui.report_view import MAX_KEY_ROWS, lead_of, render_panel, split_measurements
from ui.session import ContextForm, filter_disabled, summary_message
from ui.settings import UISettings, load_settings, save_settings
from ui.store import CaseStore


@pytest.fixture(scope="module")
def ecg_report(tmp_path_factory) -> Report:
    """The bundled LUDB record through the real graph (rules backend, no retrieval)."""
    from agent.runner import analyze

    base = tmp_path_factory.mktemp("ecg")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CARDIO_HOME", str(base / "home"))
        out = analyze([LUDB / "1.hea", LUDB / "1.dat"], out_dir=base / "out", retrieval=False)
    assert out.ok
    return out.report


def test_staging_keeps_names_links_and_splits_repeats(tmp_path):
    store = CaseStore(tmp_path / "share", tmp_path / "home")
    record = store.new_case("Dr. O'Neil")
    assert record.user == "Dr._O_Neil" and record.case_id.startswith("case-")
    up = tmp_path / "uploads"
    (up / "a").mkdir(parents=True)
    (up / "b").mkdir()
    for d in ("a", "b"):
        (up / d / "IM0001").write_bytes(d.encode())
    (up / "a" / "1.hea").write_text("x")
    staged = store.stage(record, [(str(up / "a" / "IM0001"), "IM0001"), (str(up / "b" / "IM0001"), "IM0001"),
                                  (str(up / "a" / "1.hea"), "1.hea"), (str(up / "a" / "1.hea"), "../../etc/passwd")])  # fmt: skip
    assert sorted(staged.values()) == ["../../etc/passwd", "1.hea", "IM0001", "IM0001"]
    paths = sorted(staged)
    assert all(p.startswith(str(record.inputs_dir)) for p in paths)
    assert (record.inputs_dir / "IM0001").read_bytes() == b"a" and (record.inputs_dir / "2" / "IM0001").read_bytes() == b"b"
    assert (record.inputs_dir / "passwd").is_file()  # a path in a name never leaves the case folder
    assert (record.inputs_dir / "1.hea").stat().st_ino == (up / "a" / "1.hea").stat().st_ino  # hard link, no copy


def test_case_index_is_per_user_and_survives_a_broken_row(tmp_path):
    store = CaseStore(tmp_path / "share", tmp_path / "home")
    a = store.save(store.new_case("alice"))
    b = store.new_case("bob")
    b.state = "final"
    store.save(b)
    assert [r.case_id for r in store.list_cases("alice")] == [a.case_id]
    assert store.get("bob", b.case_id).state == "final" and store.get("alice", b.case_id) is None
    rows = json.loads(store.index_path("alice").read_text()) + [{"case_id": 3}]
    store.index_path("alice").write_text(json.dumps(rows))
    assert [r.case_id for r in store.list_cases("alice")] == [a.case_id]


def test_settings_validate_persist_and_recover(tmp_path):
    with pytest.raises(ValueError, match="http"):
        UISettings(backend="openai", base_url="gpu-box:8000")
    with pytest.raises(ValueError, match="unknown expert"):
        UISettings(enabled_experts=["ecg", "xray"])
    s = UISettings(backend="openai", base_url=" http://gpu:8000/v1 ", model="", enabled_experts=["cmr", "ecg"], max_upload_mb=10)
    assert s.base_url == "http://gpu:8000/v1" and s.model is None and s.enabled_experts == ["ecg", "cmr"] and s.max_upload_bytes == 10 * 2**20
    save_settings(tmp_path, s)
    assert load_settings(tmp_path) == s
    (tmp_path / "ui" / "settings.json").write_text("{not json")
    assert load_settings(tmp_path) == UISettings()


def test_context_form_refuses_impossible_values():
    ctx = ContextForm(age=51, sex="female", height_cm=165, weight_kg=70, indication=" syncope ").to_context("Notes\x1b[31m")
    assert ctx.patient.sex == "female" and ctx.indication == "syncope" and ctx.notes == "Notes[31m"
    with pytest.raises(ValueError, match="height"):
        ContextForm(height_cm=12).to_context(None)
    with pytest.raises(ValueError, match="female/male"):
        ContextForm(sex="x").to_context(None)


def test_context_form_reads_typed_numbers_and_empty_means_not_given():
    """The form's fields are text: an untouched field is not a 0-year-old patient."""
    ctx = ContextForm(age=" 62 ", height_cm="172,5", weight_kg="", sex="not given" and None).to_context(None)
    assert (ctx.patient.age_years, ctx.patient.height_cm, ctx.patient.weight_kg) == (62.0, 172.5, None)
    assert ContextForm(age="", height_cm=None).to_context(None).patient.age_years is None
    with pytest.raises(ValueError, match="age: 'sixty' is not a number"):
        ContextForm(age="sixty").to_context(None)


def test_context_form_lists_every_bad_field_and_reads_units():
    """All bad fields at once, with what was probably meant; a unit the field expects is simply read."""
    with pytest.raises(ValueError) as info:
        ContextForm(age="fifty", height_cm="1.72", weight_kg="80 kg", sex="x").to_context(None)
    errors = info.value.errors
    assert errors[0].startswith("age: 'fifty' is not a number")
    assert errors[1] == "height: 1.72 looks like metres: did you mean 172 cm?"
    assert "female/male" in errors[2] and len(errors) == 3  # weight '80 kg' is fine
    p = ContextForm(age="51 y", height_cm="1.72 m", weight_kg="80kg").to_context(None).patient
    assert (p.age_years, p.height_cm, p.weight_kg) == (51.0, 172.0, 80.0)
    with pytest.raises(ValueError, match="height: 300 cm is outside the plausible range 30–250 cm"):
        ContextForm(height_cm="300").to_context(None)
    with pytest.raises(ValueError, match="weight: '176 lb' is not a number"):
        ContextForm(weight_kg="176 lb").to_context(None)
    with pytest.raises(ValueError, match="weight: '-5' cannot be negative"):
        ContextForm(weight_kg="-5").to_context(None)


def test_progress_log_folds_events_into_nested_messages():
    log = ProgressLog(n_files=2)
    for ev in [{"event": "node_start", "node": "intake"}, {"event": "intake", "studies": [("ecg-1", "ecg")], "problems": 1},
               {"event": "node_start", "node": "plan"}, {"event": "tool_start", "tool": "ecg_analyze", "study_id": "ecg-1"}]:  # fmt: skip
        log.handle(ev)
    parent, child = log.messages()
    assert parent["metadata"]["status"] == "pending" and parent["metadata"]["title"] == "Analysing 2 files…"
    assert "Found: ECG (ecg-1); 1 input problem" in parent["content"]
    assert child["metadata"] == {"title": "ECG expert · ecg_analyze on ecg-1", "parent_id": "progress", "id": "ecg_analyze:ecg-1:0",
                                 "status": "pending"}  # fmt: skip
    log.handle({"event": "tool_end", "tool": "ecg_analyze", "study_id": "ecg-1", "ok": False, "error": "1.hea: truncated", "seconds": 0.1})
    log.finish(failed=True)
    parent, child = log.messages()
    assert parent["metadata"]["title"] == "Analysis stopped" and parent["metadata"]["status"] == "done" and "duration" in parent["metadata"]
    assert child["content"] == "failed: 1.hea: truncated" and child["metadata"]["status"] == "done"


def test_panel_shows_every_measurement_with_its_evidence(ecg_report):
    html = render_panel(ecg_report)
    section = ecg_report.sections[0]
    key, detail = split_measurements(section)
    assert len(key) + len(detail) == len(section.measurements)
    # detail = unflagged per-lead values, plus unflagged overflow once the key table is full;
    # a flagged value always stays in the key table
    assert all(m.flag in (None, "normal") for m in detail)
    assert all(lead_of(m) for m in detail) or len(key) == MAX_KEY_ROWS
    assert not any(lead_of(m) and m.flag in (None, "normal") for m in key)
    for m in section.measurements:  # each value is on the panel, anchored by its id
        assert f"id='ca-m-{m.id.replace('.', '_')}'" in html
    for st in section.statements:
        assert f"id='ca-s-{st.id.replace('.', '_')}'" in html
    assert html.count("<details class='ca-imp'>") == len(ecg_report.impression)
    assert "ca-status-preliminary" in html and "data:image/png;base64," in html and "Per-lead and detailed measurements" in html
    assert "1.hea" in html and "ecg_analyze" in html
    summary = summary_message(ecg_report)["content"]
    assert "Report ready — preliminary" in summary and f"{len(ecg_report.measurements())} measurements" in summary


def test_non_diagnostic_case_says_so_instead_of_a_verification_failure(ecg_report):
    from experts.core.types import Quality

    r = ecg_report.model_copy(deep=True)
    for s in r.sections:
        s.quality = Quality(verdict="non_diagnostic", reasons=["no complete cardiac cycle was found"])
        s.measurements, s.statements = [], []
    r.impression = []
    summary = summary_message(r)["content"]
    assert "no diagnostic result" in summary and "non-diagnostic, so nothing was measured or diagnosed" in summary
    assert "no complete cardiac cycle was found" in summary and "Open an impression item" not in summary
    html = render_panel(r)
    assert "No findings: the study was non-diagnostic" in html and "passed verification" not in html


def test_panel_escapes_text_from_the_case(ecg_report):
    r = ecg_report.model_copy(deep=True)
    r.reported_history.notes_excerpt = "<script>alert(1)</script>"
    r.reported_history.indication = "<img src=x onerror=alert(1)>"
    html = render_panel(r)
    assert "<script>" not in html and "<img src=x" not in html and "&lt;script&gt;" in html


def test_disabled_experts_drop_their_studies(tmp_path):
    paths = [str(LUDB / "1.hea"), str(LUDB / "1.dat")]
    kept, notes = filter_disabled(paths, {}, ["echo", "cmr", "kspace"])
    assert kept == [] and "switched off" in notes[0] and "1.hea" in notes[0]
    assert filter_disabled(paths, {}, ["ecg", "echo", "cmr", "kspace"]) == (paths, [])


def test_parse_auth():
    assert parse_auth(["a:b", "c:d:e,f:g"]) == [("a", "b"), ("c", "d:e"), ("f", "g")]
    with pytest.raises(ValueError) as info:
        parse_auth(["alice"])
    assert "alice" in str(info.value)
    with pytest.raises(ValueError):
        parse_auth([":pw"])


def test_llm_check_status_in_settings(monkeypatch, tmp_path):
    fake = pytest.importorskip("tests.llm.fake_server")
    from ui.app import llm_status

    monkeypatch.setenv("CARDIO_HOME", str(tmp_path))
    monkeypatch.setenv("CARDIO_LLM_CONFIG", str(tmp_path / "none.toml"))
    assert "no language model is needed" in llm_status(UISettings())
    monkeypatch.setenv("CARDIO_LLM_MAX_RETRIES", "0")
    from tests.llm.scripted import Reply

    def probe_model(messages, tools, schema):  # answers the three probes the way vLLM with a tool parser does
        if tools:
            return Reply(calls=[("record_heart_rate", {"value_bpm": 72})])
        if schema:
            return Reply(json.dumps({"rhythm": "sinus rhythm", "rate_bpm": 64}))
        return Reply("OK")

    with fake.FakeOpenAIServer(model_fn=probe_model) as server:
        text = llm_status(UISettings(backend="openai", base_url=server.base_url))
    assert "Ready" in text and "fake/Qwen3-8B" in text and "| ✓ ok | tool calls |" in text
    down = llm_status(UISettings(backend="openai", base_url="http://127.0.0.1:9/v1"))
    assert "Not ready" in down and "✗ fail" in down


def test_figures_inline_and_other_tool_outputs_for_download(ecg_report, tmp_path):
    """Echo clips play in the chat; masks and reconstructed series are downloads."""
    from experts.core.types import Artifact
    from ui.session import figure_messages, tool_outputs

    r = ecg_report.model_copy(deep=True)
    clip, mask = tmp_path / "clip.mp4", tmp_path / "seg.nii.gz"
    clip.write_bytes(b"\x00" * 64)
    mask.write_bytes(b"\x1f\x8b" + b"\x00" * 64)
    r.sections[0].artifacts += [Artifact(kind="video", title="Clip with LV contour overlay", path=str(clip), media_type="video/mp4"),
                                Artifact(kind="mask", title="Segmentation NIfTI", path=str(mask), media_type="application/gzip"),
                                Artifact(kind="plot", title="missing plot", path=str(tmp_path / "gone.png"), media_type="image/png")]  # fmt: skip
    inline = [m["content"][1]["path"] for m in figure_messages(r)]
    assert str(clip) in inline and str(mask) not in inline and str(tmp_path / "gone.png") not in inline
    assert any(p.endswith(".png") for p in inline)
    assert tool_outputs(r) == [str(clip), str(mask)]
    panel = render_panel(r)
    assert "Other outputs: Clip with LV contour overlay (clip.mp4), Segmentation NIfTI (seg.nii.gz)" in panel
    assert "Figure “missing plot” is missing from the case folder (gone.png)" in panel


@pytest.mark.slow
def test_guideline_passages_expand_in_the_panel(tmp_path, monkeypatch):
    """With retrieval on (builds the local index: about a minute), cited
    passages are expandable in the panel and under the impression item."""
    from agent.runner import analyze

    monkeypatch.setenv("CARDIO_HOME", str(tmp_path / "home"))
    out = analyze([LUDB / "1.hea", LUDB / "1.dat"], out_dir=tmp_path / "out", retrieval=True)
    assert out.ok and out.report.guidelines, out.report.provenance.retrieval_note
    html = render_panel(out.report)
    import html as h

    for p in out.report.guidelines:
        assert f"<details class='ca-guide' id='ca-g-{p.id.replace('.', '_')}'>" in html
        assert h.escape(p.text) in html
    cited = [i for i in out.report.impression if i.passage_ids]
    assert cited and html.count("<details class='ca-guide' open>") == sum(len(i.passage_ids) for i in cited)
