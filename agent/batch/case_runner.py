"""The one per-case function both engines run (local processes and Ray tasks).

Why one function: a case analysed on a laptop and on a cluster must give the
same folder, the same markers and the same failure rows. It never raises:
whatever happens to a case becomes a `CaseRecord` the batch can tabulate,
so one bad study cannot stop the other nine hundred.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import traceback
from contextlib import ExitStack
from pathlib import Path

from agent.batch.hashing import expand_case_files, input_hash
from agent.batch.manifest import CaseSpec
from agent.batch.markers import CaseProblem, CaseRecord, clear_case_dir, write_record
from agent.batch.running import RunningMarker
from agent.batch.settings import BatchSettings
from agent.weights import apply_to_tools

TIMEOUT_EXIT_CODE = 70


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def checkpoint_db(settings: BatchSettings) -> Path:
    """One SQLite checkpoint file per worker process: concurrent writers
    never contend for one database lock, and a case thread stays reopenable."""
    return settings.state_dir / "threads" / f"{socket.gethostname()}-{os.getpid()}.sqlite"


def _relative_names(files: list[Path]) -> list[str]:
    if not files:
        return []
    try:
        common = Path(os.path.commonpath([str(f.parent) for f in files]))
        return [str(f.relative_to(common)) for f in files]
    except ValueError:
        return [f.name for f in files]


def run_case(spec: CaseSpec | dict, settings: BatchSettings | dict) -> CaseRecord:
    """Analyse one case into `<out>/cases/<case_id>/` and write its marker."""
    from agent.runner import analyze

    spec = CaseSpec.model_validate(spec)
    settings = BatchSettings.model_validate(settings)
    case_dir = settings.case_dir(spec.case_id)
    started = time.perf_counter()
    record = CaseRecord(case_id=spec.case_id, status="failed", config_hash=settings.config_hash, worker=worker_name())
    with ExitStack() as running:  # the in-progress marker outlives the final marker by a moment, never the reverse
        _run_case_body(spec, settings, case_dir, record, running, analyze)
        record.runtime_s = round(time.perf_counter() - started, 3)
        try:
            write_record(case_dir, record)
        except OSError as exc:  # e.g. disk full: still tell the engine
            record.problems.append(CaseProblem(file="(case)", problem=f"could not write the case marker: {exc}", kind="internal_error"))
            record.status = "failed"
    return record


def _run_case_body(spec: CaseSpec, settings: BatchSettings, case_dir: Path, record: CaseRecord, running: ExitStack, analyze) -> None:
    try:
        clear_case_dir(case_dir)
        case_dir.mkdir(parents=True, exist_ok=True)
        running.enter_context(RunningMarker(case_dir))
        apply_to_tools(settings.weights)
        files = expand_case_files(spec)
        record.files = _relative_names(files)
        record.input_hash = input_hash(spec, files)
        db: Path | str = ":memory:"  # sqlite3's in-memory database: the thread ends with the case
        if settings.keep_threads:
            db = checkpoint_db(settings)
            db.parent.mkdir(parents=True, exist_ok=True)
        report_formats = tuple(f for f in settings.formats if f != "sr")
        outcome = analyze([str(f) for f in files], spec.context, case_dir, backend=settings.backend, strict=settings.strict,
                          case_id=spec.case_id, formats=report_formats, retrieval=settings.retrieval, checkpoint_db=db)  # fmt: skip
        record.thread_id, record.checkpoint_db = outcome.thread_id, (str(db) if settings.keep_threads else None)
        if not outcome.ok:
            record.problems = [CaseProblem(file=p.file, problem=p.problem, kind="input") for p in outcome.problems]
            if not record.problems:
                record.problems = [CaseProblem(file="(case)", problem="no report was produced", kind="internal_error")]
        else:
            report = outcome.report
            assert report is not None
            outputs = {fmt: Path(p) for fmt, p in outcome.outputs.items()}
            if "sr" in settings.formats:
                from agent.render.sr import write_sr

                sr_path = write_sr(report, case_dir, sources=[str(f) for f in files])
                if sr_path is not None:
                    outputs["sr"] = sr_path
            record.outputs = {fmt: os.path.relpath(p, case_dir) for fmt, p in sorted(outputs.items())}
            record.modalities = sorted({s.modality.value for s in report.studies})
            record.problems = [CaseProblem(file=p.file, problem=p.problem, kind="input_not_used") for p in outcome.problems]
            files_of = {s.study_id: ", ".join(s.files[:3]) + (" …" if len(s.files) > 3 else "") for s in report.studies}
            record.problems += [CaseProblem(file=files_of.get(c.study_id, c.study_id), problem=f"{c.tool}: {c.error}", kind="tool_failed")
                                for c in report.provenance.tool_calls if not c.ok]  # fmt: skip
            # A report in which no study could be analysed is kept (it says why) but the case counts as failed.
            record.status = "ok" if report.sections else "failed"
    except Exception as exc:  # a bug must become a failure row, not a dead batch
        record.status = "failed"
        record.problems = [CaseProblem(file="(case)", problem=f"internal error: {type(exc).__name__}: {exc}", kind="internal_error")]
        record.traceback = traceback.format_exc(limit=20)


def run_case_with_watchdog(spec: dict, settings: dict) -> dict:
    """`run_case` with a hard wall-clock limit inside the worker process.

    Used where the engine cannot kill one worker from outside (Ray tasks):
    when the limit passes, the watchdog records a timeout failure for the
    case and ends the process, which the engine sees as a failed task.
    """
    s = BatchSettings.model_validate(settings)
    case_id = CaseSpec.model_validate(spec).case_id
    timer = None
    if s.timeout_s:
        def _expire() -> None:
            rec = CaseRecord(case_id=case_id, status="failed", config_hash=s.config_hash, worker=worker_name(), runtime_s=s.timeout_s or 0.0,
                             problems=[CaseProblem(file="(case)", problem=f"timed out after {s.timeout_s:g} s", kind="timeout")])  # fmt: skip
            try:
                (s.case_dir(case_id) / "case.done.json").unlink(missing_ok=True)
                write_record(s.case_dir(case_id), rec)
            finally:
                os._exit(TIMEOUT_EXIT_CODE)

        timer = threading.Timer(s.timeout_s, _expire)
        timer.daemon = True
        timer.start()
    try:
        return run_case(spec, s).model_dump(mode="json")
    finally:
        if timer is not None:
            timer.cancel()
