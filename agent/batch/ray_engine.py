"""Ray engine: the same per-case function as Ray tasks, on a laptop or a cluster.

Why tasks (not Ray Data): the unit of work is a whole case — file reads,
expert models, rendering — with no row-level transformation to batch, so
a task per case keeps the per-case markers, timeouts and failure rows
identical to the local engine. The driver keeps a bounded window of tasks
in flight (a few per slot), so a manifest of 100 000 cases never puts
100 000 task specs into the object store at once.

Placement: `cpus_per_case` / `gpus_per_case` become the task's resource
request, so `--ray-gpus-per-case 0.25` packs four cases on each GPU node's
GPU; the experts see the GPU through CUDA_VISIBLE_DEVICES that Ray sets.
LLM calls go wherever the backend points (`CARDIO_LLM=openai` with an
OpenAI-compatible vLLM endpoint): CARDIO_* and OPENAI_* variables of the
driver are forwarded to every worker.

Ray worker processes are reused between tasks, so each one imports the
graph and loads expert tools once (`experts.registry.load_tool` caches them
per process). The per-case timeout runs inside the task (a watchdog that
records the timeout and ends the worker process), because Ray offers no
way to time out one running task from the driver without killing it blind.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Callable

from agent.batch.manifest import CaseSpec
from agent.batch.markers import FAILURE_RECORD, CaseProblem, CaseRecord, read_record, write_record
from agent.batch.settings import BatchSettings

FORWARDED_ENV_PREFIXES = ("CARDIO_", "OPENAI_", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "MPLBACKEND")


class RayUnavailable(Exception):
    pass


_WARM = False  # per Ray worker process


def _case_task(spec: dict, settings: dict) -> dict:
    """Runs inside a Ray worker: warm the process once, then the case."""
    global _WARM
    from agent.batch import case_runner, local

    if not _WARM:
        os.environ.setdefault("MPLBACKEND", "Agg")
        local.warm_up()
        _WARM = True
    return case_runner.run_case_with_watchdog(spec, settings)


class RayEngine:
    def __init__(self, settings: BatchSettings, workers: int, address: str | None = None, gpus_per_case: float = 0.0,
                 cpus_per_case: float = 1.0, window_per_slot: int = 2):  # fmt: skip
        try:
            import ray  # noqa: F401
        except ImportError:
            raise RayUnavailable("the ray engine needs Ray in this environment: pip install 'cardioagent[ray]'") from None
        self.settings = settings
        self.workers = max(1, workers)
        self.address = address
        self.gpus = gpus_per_case
        self.cpus = cpus_per_case
        self.window_per_slot = window_per_slot
        self.stop = False
        self.abort = False

    def _env(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV_PREFIXES)}

    def _init(self) -> bool:
        """Connect to (or start) Ray; True when this engine started it."""
        import ray

        if ray.is_initialized():
            return False
        kwargs = dict(runtime_env={"env_vars": self._env()}, log_to_driver=False, include_dashboard=False)
        if self.address:
            ray.init(address=self.address, **kwargs)
        else:
            ray.init(num_cpus=max(1, int(self.workers * self.cpus + 0.999)), **kwargs)
        return True

    def _slots(self) -> int:
        import ray

        cpus = ray.cluster_resources().get("CPU", self.workers)
        return max(1, min(self.workers if not self.address else int(cpus // max(self.cpus, 0.01)) or 1, 10_000))

    def _failed_record(self, spec: CaseSpec, exc: Exception, started: float) -> CaseRecord:
        case_dir = self.settings.case_dir(spec.case_id)
        written = read_record(case_dir / FAILURE_RECORD)
        if written is not None and written.problems and written.problems[0].kind == "timeout":
            return written  # the in-task watchdog recorded the timeout before ending the worker
        rec = CaseRecord(case_id=spec.case_id, status="failed", config_hash=self.settings.config_hash, worker="ray",
                         runtime_s=round(time.monotonic() - started, 3),
                         problems=[CaseProblem(file="(case)", problem=f"Ray task failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}",
                                               kind="worker_crash")])  # fmt: skip
        (case_dir / "case.done.json").unlink(missing_ok=True)
        write_record(case_dir, rec)
        return rec

    def run(self, cases: list[CaseSpec], on_record: Callable[[CaseRecord], None], on_message: Callable[[str], None] = lambda m: None) -> bool:
        import ray

        started_ray = self._init()
        task = ray.remote(_case_task).options(num_cpus=self.cpus, num_gpus=self.gpus or None, max_retries=0)
        settings = self.settings.model_dump(mode="json")
        window = self._slots() * self.window_per_slot
        pending = list(reversed(cases))
        inflight: dict = {}

        def on_int(signum, frame):
            if self.stop:
                self.abort = True
            else:
                self.stop = True
                on_message("stopping: no new cases; waiting for the submitted ones (Ctrl-C again to cancel them)")

        def on_term(signum, frame):
            # SIGTERM (a scheduler ending the job): cancel what is in flight and
            # shut Ray down in `finally`, so no task outlives the driver. SIGKILL
            # cannot be caught; a resumed run waits for its orphans (running.py).
            self.stop = self.abort = True
            on_message("terminated: cancelling the submitted cases (they will run again on --resume)")

        try:
            old = signal.signal(signal.SIGINT, on_int)
            old_term = signal.signal(signal.SIGTERM, on_term)
        except ValueError:  # not the main thread
            old = old_term = None
        try:
            while pending or inflight:
                while pending and len(inflight) < window and not self.stop:
                    spec = pending.pop()
                    inflight[task.remote(spec.model_dump(mode="json"), settings)] = (spec, time.monotonic())
                if self.abort:
                    for ref, (spec, _) in inflight.items():
                        ray.cancel(ref, force=True)
                        on_message(f"cancelled: {spec.case_id} (it will run again on --resume)")
                    inflight.clear()
                    break
                if not inflight:
                    break
                done, _ = ray.wait(list(inflight), num_returns=1, timeout=0.5)
                for ref in done:
                    spec, t0 = inflight.pop(ref)
                    try:
                        record = CaseRecord.model_validate(ray.get(ref))
                    except Exception as exc:  # worker died, watchdog timeout, cancelled
                        record = self._failed_record(spec, exc, t0)
                    on_record(record)
            return not (pending or self.stop or self.abort)
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)
                signal.signal(signal.SIGTERM, old_term)
            if started_ray:
                ray.shutdown()
