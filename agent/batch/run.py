"""One batch run: validate, lock the output folder, skip what is done, run
the rest on an engine, then rebuild the tables and the summary.

Why the output-folder rules: a batch deletes and rewrites case folders, so
it only ever touches a folder it created (`.batch/` inside), refuses to
start over an existing batch unless told to `--resume` it, and holds an
exclusive lock so two runs never write the same cases.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from agent.batch.cohort import build_tables, collect, write_json, write_tables
from agent.batch.hashing import configuration, configuration_hash, input_hash
from agent.batch.manifest import CaseSpec, load_cases
from agent.batch.markers import CaseRecord, is_complete, read_done
from agent.batch.settings import BatchSettings
from agent.weights import WeightsError


class BatchUsageError(Exception):
    """The batch cannot start (output folder, lock, engine); exit code 2."""


@dataclass
class BatchOutcome:
    cases: int = 0
    skipped: int = 0
    ran: int = 0
    ok: int = 0
    failed: int = 0
    completed: bool = True
    wall_s: float = 0.0
    outputs: dict[str, str] = field(default_factory=dict)
    settings: BatchSettings | None = None  # as run: absolute out_dir, configuration hash

    @property
    def cases_per_minute(self) -> float:
        return round(self.ran / (self.wall_s / 60), 2) if self.wall_s > 0 and self.ran else 0.0


def prepare_out_dir(settings: BatchSettings, resume: bool) -> int:
    """Create or check the output folder; return the lock's file descriptor."""
    out = settings.out
    state = settings.state_dir
    if out.exists() and not out.is_dir():
        raise BatchUsageError(f"--out {out}: exists and is not a folder")
    if out.exists() and any(out.iterdir()) and not state.is_dir():
        raise BatchUsageError(f"--out {out}: folder is not empty and is not a CardioAgent batch folder (no .batch/); choose a new folder")
    state.mkdir(parents=True, exist_ok=True)
    fd = os.open(state / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise BatchUsageError(f"--out {out}: another batch is running in this folder") from None
    if not resume:
        cases_dir = out / "cases"
        done = [d.name for d in cases_dir.iterdir() if d.is_dir()] if cases_dir.is_dir() else []
        if done:
            os.close(fd)
            raise BatchUsageError(f"--out {out}: already holds a batch ({len(done)} case folder(s)); pass --resume to continue it, "
                                  "or choose a new folder")  # fmt: skip
    return fd


def plan(cases: list[CaseSpec], settings: BatchSettings, resume: bool) -> tuple[list[CaseSpec], list[CaseSpec], int]:
    """(to run, skipped, changed): a case is skipped only when its stored
    input and configuration hashes equal the current ones and its outputs
    are all there; `changed` counts finished cases that must run again."""
    to_run, skipped, changed = [], [], 0
    for spec in cases:
        case_dir = settings.case_dir(spec.case_id)
        done = read_done(case_dir) if resume else None
        if done is not None and done.config_hash == settings.config_hash and is_complete(case_dir, input_hash(spec), settings.config_hash):
            skipped.append(spec)
            continue
        if done is not None:
            changed += 1
        to_run.append(spec)
    return to_run, skipped, changed


def make_engine(engine: str, settings: BatchSettings, workers: int, ray_options: dict | None):
    if engine == "local":
        from agent.batch.local import LocalEngine

        return LocalEngine(settings, workers)
    if engine == "ray":
        from agent.batch.ray_engine import RayEngine, RayUnavailable

        try:
            return RayEngine(settings, workers, **(ray_options or {}))
        except RayUnavailable as exc:
            raise BatchUsageError(str(exc)) from None
    raise BatchUsageError(f"unknown engine {engine!r} (local or ray)")


def finalize(cases: list[CaseSpec], settings: BatchSettings, run_info: dict) -> dict[str, str]:
    """Rebuild cohort/measurements/failures tables, summary.html and batch.json."""
    from agent.batch.summary import write_summary

    tables = build_tables(collect(cases, settings))
    written = write_tables(tables, settings.out)
    written["summary.html"] = write_summary(tables, run_info, settings.out)
    written["batch.json"] = write_json(settings.out / "batch.json", run_info)
    return {k: str(v) for k, v in written.items()}


def run_batch(
    source: str | Path,
    settings: BatchSettings,
    *,
    engine: str = "local",
    workers: int = 1,
    resume: bool = False,
    quiet: bool = False,
    ray_options: dict | None = None,
) -> BatchOutcome:
    """Run a whole batch. Raises ManifestError (bad input) or BatchUsageError."""
    from agent.batch.progress import BatchProgress

    cases = load_cases(source)  # every structural problem at once, before anything runs
    try:
        config = configuration(settings.formats, settings.backend, settings.strict, settings.retrieval, settings.weights)
    except WeightsError as exc:  # before any case runs: a missing checkpoint would otherwise fail every case
        raise BatchUsageError(f"weights: {exc}") from None
    except ValueError as exc:  # e.g. a backend without its model directory or endpoint settings
        raise BatchUsageError(f"backend: {exc}") from None
    settings = settings.model_copy(update={"config_hash": configuration_hash(config), "out_dir": str(Path(settings.out_dir).resolve())})
    lock_fd = prepare_out_dir(settings, resume)
    try:
        started_at = datetime.now(timezone.utc)
        held = _wait_for_orphans(cases, settings, quiet) if resume else set()
        to_run, skipped, changed = plan([c for c in cases if c.case_id not in held], settings, resume)
        outcome = BatchOutcome(cases=len(cases), skipped=len(skipped), settings=settings, completed=not held)
        note = None
        if resume:
            note = f"resume: {len(skipped)} case(s) already complete and skipped" + (f"; {changed} rerun because inputs or configuration changed" if changed else "")
            if held:
                note += f"; {len(held)} left alone, still running from an earlier run ({', '.join(sorted(held)[:10])}): rerun --resume later"
        progress = BatchProgress(len(to_run), quiet=quiet, initial_note=note)
        events = (settings.state_dir / "events.jsonl").open("a", encoding="utf-8")

        def on_record(record: CaseRecord) -> None:
            outcome.ran += 1
            outcome.ok += record.status == "ok"
            outcome.failed += record.status != "ok"
            events.write(json.dumps({"case_id": record.case_id, "status": record.status, "runtime_s": record.runtime_s,
                                     "worker": record.worker, "at": datetime.now(timezone.utc).isoformat()}) + "\n")  # fmt: skip
            events.flush()
            progress.update(record)

        t0 = time.perf_counter()
        try:
            if to_run:
                eng = make_engine(engine, settings, workers, ray_options)
                outcome.completed = eng.run(to_run, on_record, progress.message) and not held
        finally:
            outcome.wall_s = round(time.perf_counter() - t0, 3)
            progress.close()
            events.close()
            previous = _previous_runs(settings)
            this_run = {"started_at": started_at.isoformat(), "engine": engine, "workers": workers, "skipped": outcome.skipped,
                        "ran": outcome.ran, "ok": outcome.ok, "failed": outcome.failed, "wall_s": outcome.wall_s,
                        "cases_per_minute": outcome.cases_per_minute, "completed": outcome.completed}  # fmt: skip
            run_info = {"input": str(source), "engine": engine, "config_hash": settings.config_hash, "configuration": config,
                        "settings": settings.model_dump(mode="json"), "cases": len(cases), "runs": [*previous, this_run]}  # fmt: skip
            outcome.outputs = finalize(cases, settings, run_info)
        return outcome
    finally:
        os.close(lock_fd)


def _wait_for_orphans(cases: list[CaseSpec], settings: BatchSettings, quiet: bool) -> set[str]:
    """Before planning a resume: wait for cases an earlier, killed run may
    still be running (orphaned Ray tasks); see agent/batch/running.py. The
    in-task watchdog ends an orphan within the timeout, so waiting longer
    than that (plus the heartbeat's staleness) would be waiting for a hang."""
    import sys

    from agent.batch.running import STALE_AFTER_S, wait_for_orphans

    max_wait = settings.timeout_s + STALE_AFTER_S if settings.timeout_s else None
    say = (lambda m: None) if quiet else (lambda m: print(f"cardioagent batch: {m}", file=sys.stderr))
    return wait_for_orphans([settings.case_dir(c.case_id) for c in cases], max_wait, say)


def _previous_runs(settings: BatchSettings) -> list[dict]:
    try:
        return list(json.loads((settings.out / "batch.json").read_text(encoding="utf-8")).get("runs", []))
    except (OSError, ValueError, AttributeError):
        return []
