"""The UI's endpoints through gradio_client against the app launched on
127.0.0.1: a real ECG case from upload to signed report, bad input, settings,
authentication, and no PHI in the server's logs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from agent.report import Report
from tests.ui.conftest import LUDB, corrupt_file, ludb_record_named, start_server

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

CLIENT_LOGGERS = ("httpx", "httpcore", "gradio_client")  # the test's own client, not the server


def _client(server, tmp_path, **kw) -> Client:
    return Client(server.url, verbose=False, download_files=str(tmp_path / "downloads"), **kw)


def _view(result) -> dict:
    """The page's main outputs as the client returns them: chat, input box,
    panel, five download buttons, sign-off status, case line, tool outputs (then, for the
    sign endpoints, the comment box)."""
    out = {"chat": result[0], "box": result[1], "panel": result[2], "downloads": [d for d in result[3:8] if d], "signoff": result[8],
           "case": result[9], "tool_outputs": result[10], "context_error": result[11]}
    if len(result) > 12:
        out["comment"] = result[12]
    return out


def _kept_files(box) -> list[str]:
    """Names of the files left attached in the input box after a submission."""
    while isinstance(box, dict) and "value" in box and "files" not in box:
        box = box["value"]
    files = (box or {}).get("files") or [] if isinstance(box, dict) else []
    return sorted(Path(f["path"] if isinstance(f, dict) else f).name for f in files)


def _submit(client: Client, files: list[Path], text: str = "", age=None, sex="not given", height=None, weight=None, indication="") -> dict:
    return _view(client.predict({"text": text, "files": [handle_file(str(p)) for p in files]}, age, sex, height, weight, indication,
                                api_name="/submit"))  # fmt: skip


def _ask(client: Client, question: str) -> dict:
    return _view(client.predict({"text": question, "files": []}, None, "not given", None, None, "", api_name="/submit"))


def _sign(client: Client, name: str, comment: str, action: str = "sign") -> dict:
    return _view(client.predict(name, comment, api_name=f"/{action}"))


def _text(message: dict) -> str:
    content = message.get("content")
    items = content if isinstance(content, list) else [content]
    return " ".join(i.get("text", "") if isinstance(i, dict) else str(i) for i in items)


def _files(message: dict) -> list[str]:
    content = message.get("content")
    items = content if isinstance(content, list) else [content]
    return [i["file"]["path"] if isinstance(i.get("file"), dict) else str(i.get("file")) for i in items if isinstance(i, dict) and i.get("type") == "file"]


def _download_names(downloads) -> set[str]:
    """Names behind the visible download buttons (the client returns
    component updates as dicts holding the downloaded file's path)."""
    names = set()
    for d in downloads or []:
        while isinstance(d, dict):
            if d.get("visible") is False:
                d = None
                break
            d = d.get("value") if "value" in d else d.get("path")
        if d:
            names.add(Path(d).name)
    return names


def _only_case(server, user="local") -> Path:
    cases = sorted((server.share / user).iterdir())
    return cases[-1]


def test_ecg_case_from_upload_to_signed_report(ui_server, tmp_path, caplog, capfd):
    caplog.set_level(logging.INFO)
    client = _client(ui_server, tmp_path)
    files = ludb_record_named(tmp_path / "upload", "smith_john")
    notes = "Patient John Smith, MRN 0012345. Dizzy spells."
    v = _submit(client, files, notes, 51, "female", 165, 70, "dizziness on exertion")
    chat, panel, downloads, signoff = v["chat"], v["panel"], v["downloads"], v["signoff"]

    # the chat: the upload, live progress folded into a finished block, the answer, the figure
    assert "smith_john.hea" in _text(chat[0]) and chat[0]["role"] == "user"
    progress = next(m for m in chat if (m.get("metadata") or {}).get("id") == "progress")
    assert progress["metadata"]["title"] == "Analysis complete" and progress["metadata"]["status"] == "done"
    assert "Found: ECG (ecg-1)" in _text(progress)
    tool = next(m for m in chat if (m.get("metadata") or {}).get("parent_id") == "progress")
    assert tool["metadata"]["title"] == "ECG expert · ecg_analyze on ecg-1" and _text(tool) == "finished"
    summary = next(m for m in chat if "Report ready" in _text(m))
    assert "preliminary" in _text(summary)
    figures = [f for m in chat for f in _files(m)]
    assert figures and all(Path(f).suffix == ".png" and Path(f).stat().st_size > 10_000 for f in figures)

    # the report on disk: display names, context, neutral case folder
    case_dir = _only_case(ui_server)
    assert "smith" not in case_dir.name.lower() and case_dir.name in v["case"]
    report = Report.model_validate_json((case_dir / "report" / "report.json").read_text())
    assert report.sections[0].files == ["smith_john.hea", "smith_john.dat"]
    assert report.patient.age_years == 51 and report.patient.sex == "female" and report.patient.bsa_m2() == pytest.approx(1.786, abs=0.01)
    assert report.reported_history.indication == "dizziness on exertion"

    # the panel: status, measurement table with units, reference ranges and evidence, figure inline
    assert "ca-status-preliminary" in panel and "Key measurements" in panel
    ms = {m.name: m for m in report.measurements()}
    for name in ("heart_rate", "qrs_duration", "qtc_fridericia"):
        if name in ms:
            assert f"<td class='ca-val'>{ms[name].with_unit()}</td>" in panel
    assert any(m.reference_range for m in ms.values()) and "ca-ref" in panel
    assert "smith_john.hea" in panel  # evidence names the file as the clinician knows it
    assert "data:image/png;base64," in panel
    # downloads carry the case id: reports of several patients must not all be report (1).pdf
    case_id = case_dir.name
    assert {f"{case_id}_report.json", f"{case_id}_report.html", f"{case_id}_report.md"} <= _download_names(downloads)
    assert "Awaiting sign-off" in signoff
    # case folders are not web-served: only the links the page was given work
    import httpx

    direct = httpx.get(f"{ui_server.url}gradio_api/file={case_dir / 'report' / 'report.json'}")
    assert direct.status_code == 403

    # a follow-up question in the same thread
    chat2 = _ask(client, "What was the QTc by Fridericia?")["chat"]
    answer = _text(chat2[-1])
    from ui import followup

    if followup.available():
        assert "QTc Fridericia" in answer and ms["qtc_fridericia"].with_unit() in answer
        assert "<table class='ca-answer'>" in answer
    else:
        assert "not available in this build" in answer
    assert _text(chat2[-2]) == "What was the QTc by Fridericia?"

    # sign-off: validated, preliminary → final, then an amendment with a comment
    out = _sign(client, "", "")
    assert "Not recorded" in out["signoff"] and "name is required" in out["signoff"]
    out = _sign(client, "Dr A. Test, cardiologist", "Agree with the automated read.")
    assert "Signed" in out["signoff"] and "final" in out["signoff"] and out["comment"] == ""
    assert "ca-status-final" in out["panel"] and "Dr A. Test, cardiologist" in out["panel"]
    on_disk = json.loads((case_dir / "report" / "report.json").read_text())
    assert on_disk["status"] == "final" and on_disk["signoffs"][0]["clinician"] == "Dr A. Test, cardiologist"
    assert "FINAL" in (case_dir / "report" / "report.html").read_text()
    assert "already final" in _sign(client, "Dr A. Test", "")["signoff"]
    out = _sign(client, "Dr A. Test", "", "amend")
    assert "needs a comment" in out["signoff"]
    out = _sign(client, "Dr B. Second", "QT re-measured by hand: 480 ms.", "amend")
    assert "Amended" in out["signoff"] and "ca-status-amended" in out["panel"]
    assert "Sign-off recorded (amended)" in _text(out["chat"][-1])

    # the case list, and reopening the case restores the chat and the report
    table, _pick = client.predict(api_name="/list_cases")
    rows = table["data"] if isinstance(table, dict) else table
    row = next(r for r in rows if r[0] == case_dir.name)
    assert row[2] == "amended" and row[3] == "ecg" and row[5] == "dizziness on exertion"
    fresh = _client(ui_server, tmp_path)
    fresh.predict(api_name="/list_cases")
    reopened = _view(fresh.predict(case_dir.name, api_name="/open_case"))
    chat4, panel4, signoff4 = reopened["chat"], reopened["panel"], reopened["signoff"]
    assert any("Report ready" in _text(m) for m in chat4) and any("QTc by Fridericia" in _text(m) for m in chat4)
    assert "ca-status-amended" in panel4 and "Amended" in signoff4

    # no PHI in the server's logs: no file name, note or indication at INFO and above
    server_records = [r for r in caplog.records if r.levelno >= logging.INFO and not r.name.startswith(CLIENT_LOGGERS)]
    assert any(r.name == "cardioagent.ui" for r in server_records)
    leaked = [r.getMessage() for r in server_records if any(w in r.getMessage().lower() for w in ("smith", "john", "0012345", "dizz"))]
    assert leaked == []
    out, err = capfd.readouterr()
    assert not any(w in (out + err).lower() for w in ("smith", "john", "0012345", "dizz"))


def test_corrupt_file_is_refused_with_the_reason(ui_server, tmp_path):
    client = _client(ui_server, tmp_path)
    v = _submit(client, [corrupt_file(tmp_path)])
    chat, panel, downloads, signoff = v["chat"], v["panel"], v["downloads"], v["signoff"]
    last = _text(chat[-1])
    assert "No report" in last and "scan.dcm: binary file of unknown format" in last
    assert "ca-error" in panel and "scan.dcm" in panel
    assert not _download_names(downloads) and signoff == ""
    rows = client.predict(api_name="/list_cases")[0]
    rows = rows["data"] if isinstance(rows, dict) else rows
    assert any(r[2] == "rejected" for r in rows)


def test_bad_context_lists_every_field_and_keeps_the_files(ui_server, tmp_path):
    client = _client(ui_server, tmp_path)
    v = _submit(client, [LUDB / "1.hea", LUDB / "1.dat"], "", "fifty", "not given", "1.72", "80 kg", "")
    last = _text(v["chat"][-1])
    assert "age: 'fifty' is not a number" in last and "1.72 looks like metres: did you mean 172 cm?" in last
    assert "weight" not in last  # '80 kg' is read as 80 kg
    assert "1.72 looks like metres" in str(v["context_error"])
    assert _kept_files(v["box"]) == ["1.dat", "1.hea"]
    assert v["case"].startswith("No case open")


def test_rejected_case_keeps_the_usable_files_attached(ui_server, tmp_path):
    client = _client(ui_server, tmp_path)
    (tmp_path / "in").mkdir()
    empty = tmp_path / "in" / "empty.dcm"
    empty.write_bytes(b"")
    text = tmp_path / "in" / "notes_renamed.dcm"
    text.write_text("Referral: palpitations.\n")
    v = _submit(client, [LUDB / "1.hea", LUDB / "1.dat", empty, text])
    last = _text(v["chat"][-1])
    assert "No report" in last and "empty.dcm" in last and "notes_renamed.dcm" in last
    assert "2 usable files are still attached" in last
    assert _kept_files(v["box"]) == ["1.dat", "1.hea"]


def test_truncated_signal_is_refused_at_intake_naming_the_file(ui_server, tmp_path):
    folder = tmp_path / "trunc"
    folder.mkdir()
    (folder / "1.hea").write_text((LUDB / "1.hea").read_text())
    (folder / "1.dat").write_bytes((LUDB / "1.dat").read_bytes()[:1000])
    v = _submit(_client(ui_server, tmp_path), [folder / "1.hea", folder / "1.dat"])
    last = _text(v["chat"][-1])
    assert "No report" in last and "1.dat: 1000 bytes, but 1.hea declares" in last and "file truncated" in last
    assert "broadcast" not in last


def test_question_without_a_case_asks_for_files(ui_server, tmp_path):
    chat = _ask(_client(ui_server, tmp_path), "What is the heart rate?")["chat"]
    assert "Attach the study files first" in _text(chat[-1])


def test_impossible_context_is_refused_before_analysis(ui_server, tmp_path):
    chat = _submit(_client(ui_server, tmp_path), [LUDB / "1.hea", LUDB / "1.dat"], age=None, height=20)["chat"]  # the form allows it, the patient model does not
    assert "Clinical context not accepted" in _text(chat[-1]) and "height: 20 cm is outside the plausible range 30–250 cm" in _text(chat[-1])


def test_settings_switch_an_expert_off_and_validate(ui_server, tmp_path):
    client = _client(ui_server, tmp_path)
    status = client.predict("openai", "not-a-url", "", "", ["ecg"], False, False, 64, api_name="/save_settings")
    assert "Not saved" in status and "http://" in status
    status = client.predict("rules", "", "", "", ["echo", "cmr", "kspace"], False, False, 64, api_name="/save_settings")
    assert "Saved" in status
    try:
        saved = json.loads((ui_server.home / "ui" / "settings.json").read_text())
        assert saved["enabled_experts"] == ["echo", "cmr", "kspace"] and saved["max_upload_mb"] == 64
        v = _submit(client, [LUDB / "1.hea", LUDB / "1.dat"])
        chat, downloads = v["chat"], v["downloads"]
        texts = " ".join(_text(m) for m in chat)
        assert "switched off in Settings" in texts and "Nothing left to analyse" in texts
        assert not _download_names(downloads)
        assert "no language model is needed" in client.predict("rules", "", "", "", api_name="/check_llm")
        assert "must start with http" in client.predict("openai", "gpu-box:8000", "", "", api_name="/check_llm")
    finally:
        client.predict("rules", "", "", "", ["ecg", "echo", "cmr", "kspace"], False, False, 2048, api_name="/save_settings")


def test_upload_size_limit_is_enforced(ui_server, tmp_path):
    client = _client(ui_server, tmp_path)
    client.predict("rules", "", "", "", ["ecg", "echo", "cmr", "kspace"], False, False, 1, api_name="/save_settings")
    try:
        mitdb = LUDB.parent / "mitdb-100"  # 100.dat is 1.9 MB
        with pytest.raises(Exception) as info:
            _submit(client, [mitdb / "100.hea", mitdb / "100.dat"])
        assert "size" in str(info.value).lower() or "413" in str(info.value)
    finally:
        client.predict("rules", "", "", "", ["ecg", "echo", "cmr", "kspace"], False, False, 2048, api_name="/save_settings")


def test_basic_auth_and_cases_per_user(ui_env, tmp_path):
    server = start_server(ui_env / "auth", auth=[("clin1", "s3cret-pass")])
    try:
        with pytest.raises(Exception):
            Client(server.url, verbose=False, auth=("clin1", "wrong"))
        client = Client(server.url, verbose=False, auth=("clin1", "s3cret-pass"), download_files=str(tmp_path / "dl"))
        _submit(client, [corrupt_file(tmp_path)])
        assert [p.name for p in server.share.iterdir()] == ["clin1"]
        assert (server.home / "ui" / "index" / "clin1.json").is_file()
    finally:
        server.demo.close()
