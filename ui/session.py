"""What the UI does with a case, without any Gradio in it.

Why separate from the app: the steps (stage uploads, build the clinical
context, run the graph in a thread and stream its events, open the sign-off,
answer follow-ups, reopen a case) are the product; the Gradio layer only
wires them to components. Keeping them plain Python makes them testable and
keeps PHI handling in one place: logs carry case ids and counts, never file
names, notes or values.
"""

from __future__ import annotations

import importlib.util
import logging
import queue
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from agent.case import ClinicalContext, normalise_sex, sanitise_text
from agent.report import Report
from experts.core.types import PatientContext
from ui import followup
from ui.progress import ProgressLog
from ui.report_view import empty_panel, problems_panel, render_panel, running_panel, strip_markers
from ui.settings import EXPERT_LABELS, UISettings, make_backend
from ui.store import CaseRecord, CaseStore

log = logging.getLogger("cardioagent.ui")
POLL_S = 0.25
DOWNLOAD_ORDER = ("pdf", "html", "json", "fhir", "md")


@dataclass
class View:
    """Everything the page shows for one case."""

    messages: list[dict] = field(default_factory=list)
    panel: str = field(default_factory=empty_panel)
    downloads: list[str] = field(default_factory=list)
    record: CaseRecord | None = None
    signoff: str = ""
    report: Report | None = None
    # what the input box keeps after this view (files the user need not attach again) and an error to show by the context fields
    keep_files: list[str] = field(default_factory=list)
    keep_text: str = ""
    context_error: str = ""

    @property
    def outputs(self) -> list[str]:
        return tool_outputs(self.report)


class ContextErrors(ValueError):
    """Every bad clinical-context field at once (a form is corrected in one go)."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


_NUMBER = re.compile(r"^([0-9]+(?:[.,][0-9]+)?|[.,][0-9]+)\s*([a-zA-Zµ.]*)$")
# accepted units per field (stripped); value multiplier to the field's unit
_UNITS = {
    "age": {"": 1.0, "y": 1.0, "yr": 1.0, "yrs": 1.0, "year": 1.0, "years": 1.0, "j": 1.0, "a": 1.0},
    "height": {"": 1.0, "cm": 1.0, "m": 100.0, "mm": 0.1},
    "weight": {"": 1.0, "kg": 1.0, "kgs": 1.0},
}
_EXAMPLE = {"age": "e.g. 62", "height": "in cm, e.g. 172", "weight": "in kg, e.g. 80"}
PLAUSIBLE = {"age": (0.0, 130.0), "height": (30.0, 250.0), "weight": (1.0, 400.0)}


def parse_field(value: float | str | None, field_name: str) -> float | None:
    """A number typed in a free-text field; empty means *not given*.

    Why text fields and not gr.Number: Gradio's Number shows and sends 0 for
    an untouched field, and a 0-year-old patient silently changes age-specific
    thresholds. '62', '62.5', '62,5' and a unit the field expects ('80 kg',
    '172 cm', '1.72 m', '51 y') are read; anything else, and values outside
    the plausible range, raise ValueError naming the field and what was
    expected ('1.72' as a height looks like metres)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (int, float)):
        number, unit = float(value), ""
    else:
        text = value.strip()
        m = _NUMBER.match(re.sub(r"\s+", " ", text))
        units = _UNITS.get(field_name, {"": 1.0})
        if re.fullmatch(r"[−-]\s*\d+(?:[.,]\d+)?\s*\w*", text):
            raise ValueError(f"{field_name}: {text[:20]!r} cannot be negative ({_EXAMPLE.get(field_name, 'a number')})")
        if m is None or m.group(2).lower().rstrip(".") not in units:
            expected = _EXAMPLE.get(field_name, "a number")
            raise ValueError(f"{field_name}: {text[:20]!r} is not a number ({expected})")
        unit = m.group(2).lower().rstrip(".")
        number = float(m.group(1).replace(",", ".")) * units[unit]
    low, high = PLAUSIBLE.get(field_name, (float("-inf"), float("inf")))
    if field_name == "height" and unit == "" and 0.3 <= number <= 2.5:
        raise ValueError(f"height: {number:g} looks like metres: did you mean {number * 100:.0f} cm?")
    if not low <= number <= high:
        units_text = {"age": "years", "height": "cm", "weight": "kg"}.get(field_name, "")
        raise ValueError(f"{field_name}: {number:g} {units_text} is outside the plausible range {low:g}–{high:g} {units_text}".replace("  ", " "))
    return number


def optional_number(value: float | str | None, field_name: str) -> float | None:
    """Backwards-compatible name of `parse_field`."""
    return parse_field(value, field_name)


@dataclass
class ContextForm:
    age: float | str | None = None
    sex: str | None = None
    height_cm: float | str | None = None
    weight_kg: float | str | None = None
    indication: str | None = None

    def to_context(self, notes: str | None) -> ClinicalContext:
        """Raises ContextErrors (a ValueError) listing every bad field."""
        from pydantic import ValidationError

        errors: list[str] = []
        values: dict[str, float | None] = {}
        for key, raw, name in (("age_years", self.age, "age"), ("height_cm", self.height_cm, "height"), ("weight_kg", self.weight_kg, "weight")):
            try:
                values[key] = parse_field(raw, name)
            except ValueError as exc:
                errors.append(str(exc))
                values[key] = None
        try:
            sex = normalise_sex(self.sex or None)
        except ValueError as exc:
            errors.append(str(exc))
            sex = None
        if errors:
            raise ContextErrors(errors)
        extra = {}
        if "sources" in PatientContext.model_fields:
            given = [k for k, v in (*values.items(), ("sex", sex)) if v is not None]
            extra["sources"] = {k: "clinical context form" for k in given}
        try:
            patient = PatientContext(sex=sex, **values, **extra)
            indication = sanitise_text(self.indication.strip(), 500) if self.indication and self.indication.strip() else None
            return ClinicalContext(patient=patient, indication=indication, notes=sanitise_text(notes) if notes else None,
                                   notes_source="chat message" if notes else None)  # fmt: skip
        except ValidationError as exc:
            names = {"age_years": "age", "height_cm": "height", "weight_kg": "weight"}
            raise ContextErrors([f"{names.get(str(x['loc'][-1]), str(x['loc'][-1]))}: {x['msg']}" for x in exc.errors()]) from exc


def report_formats() -> tuple[str, ...]:
    extra = tuple(f for f in ("pdf", "fhir") if importlib.util.find_spec(f"agent.render.{f}") is not None)
    return ("json", "md", "html") + extra


def downloads_for(report_dir: Path) -> list[str]:
    names = {"pdf": "report.pdf", "html": "report.html", "json": "report.json", "fhir": "report.fhir.json", "md": "report.md"}
    return [str(report_dir / names[f]) for f in DOWNLOAD_ORDER if (report_dir / names[f]).is_file()]


def _user_message(names: list[str], text: str) -> dict:
    files = ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "")
    body = f"**{len(names)} file{'s' if len(names) != 1 else ''}:** {files}"
    if text:
        body += f"\n\n{text}"
    return {"role": "user", "content": body}


def _say(text: str) -> dict:
    return {"role": "assistant", "content": text}


def summary_message(report: Report) -> dict:
    """The answer in the chat: status, impression, the key values, where to look."""
    ms = report.measurements()
    present = [st for st in report.statements() if st.status == "present"]
    g = report.grounding
    if report.sections and all(s.quality.verdict == "non_diagnostic" for s in report.sections):
        lines = [f"**Report ready — {report.status}, no diagnostic result** (awaiting your sign-off): "
                 f"{'the study was' if len(report.sections) == 1 else 'every study was'} non-diagnostic, so nothing was measured or diagnosed."]  # fmt: skip
        lines += [f"⚠ {s.modality.display} ({s.study_id}): {'; '.join(s.quality.reasons) or 'no reason given'}" for s in report.sections]
        if report.rejected_inputs:
            lines.append("**Not used:** " + "; ".join(p.line() for p in report.rejected_inputs))
        lines.append("Supply a better recording (or another view) and send it as a new case; the report records this study as non-diagnostic.")
        return _say("\n\n".join(lines))
    lines = [f"**Report ready — {report.status}** (awaiting your sign-off). {len(report.sections)} "
             f"stud{'y' if len(report.sections) == 1 else 'ies'} analysed, {len(ms)} measurements, {len(present)} finding"
             f"{'s' if len(present) != 1 else ''}; {g.numbers_traced} of {g.numbers_checked} numbers in the text traced to a tool output."]  # fmt: skip
    if report.impression:
        lines.append("**Impression**")
        lines += [f"{i + 1}. {strip_markers(item.text)}" for i, item in enumerate(report.impression)]
    flagged = [m for m in ms if m.flag in ("low", "high", "abnormal")]
    if flagged:
        lines.append("**Outside the reference range:** " + " · ".join(f"{m.label} {m.with_unit()} ({m.flag})" for m in flagged[:8]))
    unusable = [s for s in report.sections if s.quality.verdict != "usable"]
    for s in unusable:
        lines.append(f"⚠ {s.modality.display} ({s.study_id}) quality **{s.quality.verdict.replace('_', '-')}**: {'; '.join(s.quality.reasons)}")
    for c in report.provenance.tool_calls:
        if not c.ok:
            lines.append(f"✗ **{c.tool} failed on {c.study_id}:** {c.error}")
    if report.rejected_inputs:
        lines.append("**Not used:** " + "; ".join(p.line() for p in report.rejected_inputs))
    lines.append("Open an impression item in the report panel to see its evidence. Ask a follow-up question below, "
                 "or sign the report when you have reviewed it.")  # fmt: skip
    return _say("\n\n".join(lines))


INLINE_MEDIA = followup.INLINE_MEDIA


def figure_messages(report: Report) -> list[dict]:
    """Plots and clips of every study, inline in the chat (Gradio serves
    them from its cache; the case folder keeps the originals)."""
    out = []
    for s in report.sections:
        for art in s.artifacts:
            if art.media_type in INLINE_MEDIA and Path(art.path).is_file():
                out.append({"role": "assistant", "content": [f"**{art.title}** — {s.modality.display} {s.study_id}",
                                                             {"path": art.path, "alt_text": art.title}]})  # fmt: skip
    return out


def tool_outputs(report: Report | None) -> list[str]:
    """Files the tools wrote besides plots (masks, DICOM SEG, reconstructed
    series, annotated clips): offered for download, not shown inline."""
    if report is None:
        return []
    return [a.path for s in report.sections for a in s.artifacts
            if not a.media_type.startswith("image/") and Path(a.path).is_file()]  # fmt: skip


def signoff_text(report: Report | None) -> str:
    if report is None:
        return ""
    if not report.signoffs:
        return "**Awaiting sign-off.** Review the report, then sign it (→ final) or record an amendment."
    last = report.signoffs[-1]
    verb = "Signed" if last.action == "signed" else "Amended"
    return f"**{verb}** by {last.clinician} at {last.signed_at:%Y-%m-%d %H:%M} UTC — report is **{report.status}**." + (
        f" Comment: {last.comment}" if last.comment else "")


def filter_disabled(paths: list[str], names: dict[str, str], enabled: list[str]) -> tuple[list[str], list[str]]:
    """Drop the files of studies whose expert is switched off in Settings.
    Uses the same intake (header sniffing only) the graph will run."""
    from agent.intake.group import intake

    if set(enabled) >= set(EXPERT_LABELS):
        return paths, []
    result = intake(paths, names)
    dropped: list[str] = []
    drop_paths: set[str] = set()
    for s in result.studies:
        if s.modality.value not in enabled:
            drop_paths.update(s.files)
            dropped.append(f"{s.modality.display} study ({', '.join(s.display_names or [Path(f).name for f in s.files])}) "
                           "was not analysed: its expert is switched off in Settings.")  # fmt: skip
    return [p for p in paths if p not in drop_paths], dropped


class CaseRunner:
    def __init__(self, store: CaseStore, settings: Callable[[], UISettings], checkpoint_db: str | Path | None = None):
        self.store = store
        self.settings = settings
        self.checkpoint_db = checkpoint_db

    # --- new case ------------------------------------------------------------

    def start(self, user: str | None, uploads: list[str], text: str, form: ContextForm) -> Iterator[View]:
        settings = self.settings()
        names = [Path(p).name for p in uploads]
        view = View(messages=[_user_message(names, text)])
        too_big = [Path(p).name for p in uploads if Path(p).stat().st_size > settings.max_upload_bytes]
        if too_big:
            view.keep_files = [p for p in uploads if Path(p).name not in too_big]
            view.keep_text = text
            kept = " The other files are still attached: press Enter to analyse them." if view.keep_files else ""
            view.messages.append(_say(f"✗ Not analysed: {', '.join(too_big)} exceed{'s' if len(too_big) == 1 else ''} the upload limit "
                                      f"of {settings.max_upload_mb} MB (Settings).{kept}"))  # fmt: skip
            yield view
            return
        try:
            context = form.to_context(text.strip() if text else None)
        except ValueError as exc:
            errors = getattr(exc, "errors", None) or [str(exc)]
            errors = errors if isinstance(errors, list) else [str(exc)]
            view.keep_files, view.keep_text = list(uploads), text
            listed = "\n".join(f"- {x}" for x in errors)
            view.context_error = f"✗ **Not sent — correct {'these fields' if len(errors) > 1 else 'this field'}:**\n{listed}"
            view.messages.append(_say(f"✗ **Clinical context not accepted** ({len(errors)} field{'s' if len(errors) != 1 else ''}):\n{listed}\n\n"
                                      "Correct it under *Clinical context* and press Enter again: your files are still attached."))  # fmt: skip
            yield view
            return

        record = self.store.new_case(user)
        record.n_files = len(uploads)
        record.indication = context.indication
        staged = self.store.stage(record, [(p, Path(p).name) for p in uploads])
        self.store.save(record)
        view.record = record
        log.info("case %s started: %d file(s)", record.case_id, len(staged))

        paths, dropped = filter_disabled(list(staged), staged, settings.enabled_experts)
        for note in dropped:
            view.messages.append(_say(f"Note: {note}"))
        if not paths:
            view.messages.append(_say("Nothing left to analyse: every supplied study belongs to an expert that is switched off in Settings."))
            record.state = "rejected"
            self._finish(record, view)
            yield view
            return

        progress = ProgressLog(n_files=len(paths))
        base = list(view.messages)
        view.messages = base + progress.messages()
        view.panel = running_panel(len(paths))
        yield view

        events: queue.Queue = queue.Queue()
        box: dict = {}

        def work() -> None:
            from agent.runner import analyze

            try:
                box["outcome"] = analyze(paths, context, record.report_dir, backend=make_backend(settings), strict=not settings.allow_partial,
                                         case_id=record.case_id, thread_id=record.thread_id, display_names={p: staged[p] for p in paths},
                                         on_event=events.put, checkpoint_db=self.checkpoint_db, formats=report_formats(),
                                         retrieval=settings.retrieval)  # fmt: skip
            except Exception as exc:  # shown to the user; the log gets the type only (messages can carry names)
                box["error"] = exc
                log.error("case %s: internal error %s", record.case_id, type(exc).__name__)
                log.debug("case %s: internal error", record.case_id, exc_info=True)

        worker = threading.Thread(target=work, name=f"case-{record.case_id}", daemon=True)
        worker.start()
        while worker.is_alive() or not events.empty():
            changed = False
            try:
                while True:
                    progress.handle(events.get(timeout=POLL_S))
                    changed = True
                    if events.empty():
                        break
            except queue.Empty:
                pass
            if changed:
                view.messages = base + progress.messages()
                yield view
        worker.join()

        outcome = box.get("outcome")
        if "error" in box or outcome is None:
            progress.finish(failed=True)
            exc = box.get("error")
            view.messages = base + progress.messages() + [_say(f"✗ Internal error while analysing the case ({type(exc).__name__}: {exc}). "
                                                                "Nothing was reported. Please report this with the case id "
                                                                f"`{record.case_id}`.")]  # fmt: skip
            view.panel = problems_panel([f"Internal error: {type(exc).__name__}"])
            record.state = "failed"
            self._finish(record, view)
            yield view
            return
        if not outcome.ok:
            progress.finish(failed=True)
            lines = [p.line() for p in outcome.problems]
            bad = {p.file for p in outcome.problems if getattr(p, "severity", "error") == "error"}
            view.keep_files = [u for u in uploads if Path(u).name not in bad]
            view.keep_text = text
            if view.keep_files and len(view.keep_files) < len(uploads):
                kept = (f"\n\nThe {len(view.keep_files)} usable file{'s are' if len(view.keep_files) != 1 else ' is'} still attached below "
                        f"(the {len(uploads) - len(view.keep_files)} unusable one{'s were' if len(uploads) - len(view.keep_files) != 1 else ' was'} removed): "
                        "press Enter to analyse them, or add corrected files first.")  # fmt: skip
            elif view.keep_files:
                kept = "\n\nYour files are still attached below: correct or remove them and press Enter."
            else:
                kept = "\n\nCorrect these files and send the case again."
            hint = "" if settings.allow_partial else (" To always analyse the usable files of a case, switch on “analyse usable files” in Settings.")
            view.messages = base + progress.messages() + [_say("✗ **No report: the input could not be used.**\n\n" + "\n".join(f"- {x}" for x in lines)
                                                               + f"{kept}{hint}")]  # fmt: skip
            view.panel = problems_panel(lines)
            record.state = "rejected"
            self._finish(record, view)
            log.info("case %s rejected: %d input problem(s)", record.case_id, len(lines))
            yield view
            return

        progress.finish()
        report = outcome.report
        assert report is not None
        self._open_signoff(record)
        view.report = report
        view.messages = base + progress.messages() + [summary_message(report)] + figure_messages(report)
        view.panel = render_panel(report)
        view.downloads = downloads_for(record.report_dir)
        view.signoff = signoff_text(report)
        self._update_record(record, report)
        self._finish(record, view)
        log.info("case %s reported in %.1f s: %d section(s), status %s", record.case_id, progress.elapsed, len(report.sections), report.status)
        yield view

    # --- follow-up -------------------------------------------------------------

    def follow_up(self, record: CaseRecord, messages: list[dict], question: str) -> Iterator[View]:
        view = self.reopen_view(record, messages=messages + [{"role": "user", "content": question}])
        if record.state not in ("preliminary", "final", "amended") or not record.report_json.is_file():
            view.messages.append(_say("This case has no report, so there is nothing to ask about. Attach the files again to start a new case."))
            self._finish(record, view)
            yield view
            return
        if not followup.available():
            view.messages.append(_say(followup.UNAVAILABLE))
            self._finish(record, view)
            yield view
            return
        view.messages.append({"role": "assistant", "content": "Looking this up in the case's results…",
                              "metadata": {"title": "Answering from the case results", "status": "pending"}})  # fmt: skip
        yield view
        settings = self.settings()
        try:
            answer = followup.ask(record.thread_id or record.case_id, question, backend=make_backend(settings), retrieval=settings.retrieval,
                                  out_root=record.path / "chat")  # fmt: skip
        except Exception as exc:
            log.error("case %s: follow-up failed with %s", record.case_id, type(exc).__name__)
            answer = [_say(f"✗ The question could not be answered ({type(exc).__name__}: {exc}).")]
        view.messages[-1:] = answer
        self._finish(record, view)
        yield view

    # --- sign-off --------------------------------------------------------------

    def _signoff_thread(self, record: CaseRecord) -> str:
        from agent.signoff import signoff_thread_id

        return signoff_thread_id(record.thread_id or record.case_id)

    def _open_signoff(self, record: CaseRecord) -> None:
        """Record that the report awaits a clinician (a LangGraph interrupt)."""
        from agent.signoff import open_signoff

        try:
            open_signoff(record.report_dir, self._signoff_thread(record), self.checkpoint_db)
        except Exception as exc:  # the report stands without the pending marker; signing opens it again
            log.warning("case %s: could not open sign-off (%s)", record.case_id, type(exc).__name__)

    def sign(self, record: CaseRecord, messages: list[dict], clinician: str, comment: str, action: str) -> View:
        from agent.signoff import SignoffError, open_signoff, submit_signoff

        view = self.reopen_view(record, messages=messages)
        try:
            open_signoff(record.report_dir, self._signoff_thread(record), self.checkpoint_db)
            report = submit_signoff(self._signoff_thread(record), {"clinician": clinician, "action": action, "comment": comment or None},
                                    self.checkpoint_db)  # fmt: skip
        except SignoffError as exc:
            view.signoff = f"✗ Not recorded: {exc}."
            return view
        self._update_record(record, report)
        last = report.signoffs[-1]
        verb = "signed" if last.action == "signed" else "amended"
        view.messages.append(_say(f"✓ **Sign-off recorded ({report.status}).** Report {verb} by **{last.clinician}** at "
                                  f"{last.signed_at:%Y-%m-%d %H:%M} UTC." + (f"\n\n> {last.comment}" if last.comment else "")))
        view.report = report
        view.panel = render_panel(report)
        view.downloads = downloads_for(record.report_dir)
        view.signoff = signoff_text(report)
        self._finish(record, view)
        log.info("case %s %s", record.case_id, verb)
        return view

    # --- reopen ----------------------------------------------------------------

    def reopen_view(self, record: CaseRecord, messages: list[dict] | None = None) -> View:
        report = None
        if record.report_json.is_file():
            try:
                report = Report.model_validate_json(record.report_json.read_text(encoding="utf-8"))
            except ValueError:
                report = None
        msgs = messages if messages is not None else self.store.load_transcript(record)
        view = View(messages=list(msgs), record=record, report=report)
        if report is not None:
            view.panel = render_panel(report)
            view.downloads = downloads_for(record.report_dir)
            view.signoff = signoff_text(report)
        elif record.state in ("rejected", "failed"):
            view.panel = problems_panel([f"Case {record.case_id} was not analysed ({record.state}); see the chat for why."])
        return view

    # --- bookkeeping -----------------------------------------------------------

    def _update_record(self, record: CaseRecord, report: Report) -> None:
        record.state = report.status
        record.modalities = sorted({s.modality.value for s in report.studies})
        record.findings = [st.label for st in report.statements() if st.status == "present"][:6]

    def _finish(self, record: CaseRecord, view: View) -> None:
        self.store.save(record)
        self.store.save_transcript(record, [m for m in view.messages if not _is_pending(m)])


def _is_pending(message: dict) -> bool:
    return (message.get("metadata") or {}).get("status") == "pending"

