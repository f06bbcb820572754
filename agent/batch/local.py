"""Local engine: N worker processes on this machine, one case each at a time.

Why our own small pool rather than `concurrent.futures`: a per-case
timeout has to kill exactly the worker that is stuck (a hung C call cannot
be interrupted from inside), and a worker that dies (segfault, OOM kill)
must cost one case, not the batch. Each worker runs cases sent over its
pipe; the parent watches every pipe, every process and every deadline with
one `wait`.

Models and libraries are loaded once: on Linux the parent imports the graph,
the experts (tools cached per process by `experts.registry.load_tool`), the
renderers and the heavy scientific libraries, then *forks* the workers, so
N workers (and any replacement after a timeout) start warm and share those
pages copy-on-write. Nothing has run a thread pool in the parent at that
point (torch's OpenMP pool starts on first use, not on import). Elsewhere,
or with CARDIO_BATCH_START_METHOD=spawn, each worker loads them itself.

Workers ignore Ctrl-C (the parent decides) and die with the parent
(`PR_SET_PDEATHSIG` on Linux), so a `kill -9` of the batch never leaves an
orphan still writing into a case folder that the rerun is redoing.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Callable

from agent.batch.manifest import CaseSpec
from agent.batch.markers import CaseProblem, CaseRecord, write_record
from agent.batch.settings import BatchSettings

RecordCallback = Callable[[CaseRecord], None]


def _die_with_parent(parent_pid: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


# Libraries the renderers and the ECG expert import lazily on their first case. torch and
# MONAI (~12 s of imports on a busy 2-core machine) are left to the experts that need them,
# so a batch without imaging cases does not pay for them.
HEAVY_MODULES = ("numpy", "scipy.signal", "pandas", "matplotlib.pyplot", "wfdb", "neurokit2", "pydicom", "highdicom", "fpdf",
                 "fhir.resources.R4B.bundle", "pyarrow")  # fmt: skip


def warm_up(preload_libraries: bool = False) -> None:
    """Import what every case needs once per process: the graph, the
    experts (their tool objects are cached per process) and the renderers;
    with `preload_libraries` also the heavy libraries they import lazily
    (worth it only before a fork, where the children share them for free)."""
    import importlib

    os.environ.setdefault("MPLBACKEND", "Agg")
    import agent.graph  # noqa: F401
    import agent.render.fhir  # noqa: F401
    import agent.render.pdf  # noqa: F401
    import agent.render.sr  # noqa: F401
    from experts.core.types import Modality
    from experts.registry import NoToolForModality, load_tool

    for modality in Modality:
        try:
            load_tool(modality)
        except NoToolForModality:
            pass
    for name in HEAVY_MODULES if preload_libraries else ():
        try:
            importlib.import_module(name)
        except Exception:  # an optional library missing from this build
            pass


def start_method() -> str:
    wanted = os.environ.get("CARDIO_BATCH_START_METHOD")
    if wanted:
        return wanted
    return "fork" if sys.platform.startswith("linux") else "spawn"


def redirect_output(settings: BatchSettings) -> None:
    """Send this worker's stdout/stderr (library warnings, C-level output)
    to a log file, so the progress bar stays readable; the log keeps them."""
    import socket

    logs = settings.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    fd = os.open(logs / f"worker-{socket.gethostname()}-{os.getpid()}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _worker_main(conn: Connection, settings: dict, parent_pid: int, threads: int = 1) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a forked worker inherits the parent's handler
    _die_with_parent(parent_pid)
    redirect_output(BatchSettings.model_validate(settings))
    os.environ.setdefault("MPLBACKEND", "Agg")
    # Cores shared out between the workers (no oversubscription); set before any
    # numerical library starts its thread pool. torch is not imported for this.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    try:  # BLAS pools of libraries the parent already loaded before the fork
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except Exception:
        pass
    from agent.batch.case_runner import run_case

    warm_up()
    conn.send(("ready", os.getpid()))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        record = run_case(task, settings)
        try:
            conn.send(("done", record.model_dump(mode="json")))
        except (BrokenPipeError, OSError):
            return


@dataclass
class _Worker:
    proc: mp.process.BaseProcess
    conn: Connection
    ready: bool = False
    case: CaseSpec | None = None
    started: float = 0.0
    cases_done: int = 0


@dataclass
class StopFlags:
    """Set by the signal handlers; the loop reads them between events."""

    stop: bool = False  # first Ctrl-C: no new cases, finish running ones
    abort: bool = False  # second Ctrl-C or SIGTERM: kill running cases now
    messages: list[str] = field(default_factory=list)


class LocalEngine:
    def __init__(self, settings: BatchSettings, workers: int):
        self.settings = settings
        self.n = max(1, workers)
        self.method = start_method()
        self.ctx = mp.get_context(self.method)
        self.flags = StopFlags()

    def _spawn(self) -> _Worker:
        parent, child = self.ctx.Pipe(duplex=True)
        threads = max(1, (os.cpu_count() or 1) // self.n)
        proc = self.ctx.Process(target=_worker_main, args=(child, self.settings.model_dump(mode="json"), os.getpid(), threads),
                                name="cardioagent-batch-worker", daemon=True)  # fmt: skip
        proc.start()
        child.close()
        return _Worker(proc=proc, conn=parent)

    def _kill(self, w: _Worker) -> None:
        if w.proc.is_alive():
            w.proc.kill()
        w.proc.join(timeout=10)
        w.conn.close()

    def _fail(self, w: _Worker, kind: str, why: str) -> CaseRecord:
        assert w.case is not None
        rec = CaseRecord(case_id=w.case.case_id, status="failed", config_hash=self.settings.config_hash, worker=f"local:{w.proc.pid}",
                         runtime_s=round(time.monotonic() - w.started, 3), problems=[CaseProblem(file="(case)", problem=why, kind=kind)])  # fmt: skip
        case_dir = self.settings.case_dir(w.case.case_id)
        (case_dir / "case.done.json").unlink(missing_ok=True)
        write_record(case_dir, rec)
        return rec

    def _install_signals(self):
        def on_int(signum, frame):
            if self.flags.stop:
                self.flags.abort = True
            else:
                self.flags.stop = True
                self.flags.messages.append("stopping: no new cases; waiting for the running ones (Ctrl-C again to abort them)")

        def on_term(signum, frame):
            self.flags.stop = self.flags.abort = True

        old = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
        try:
            signal.signal(signal.SIGINT, on_int)
            signal.signal(signal.SIGTERM, on_term)
        except ValueError:  # not the main thread (embedded use): no signal handling
            return None
        return old

    def run(self, cases: list[CaseSpec], on_record: RecordCallback, on_message: Callable[[str], None] = lambda m: None) -> bool:
        """Run the cases; call `on_record` for each finished one. Returns
        False when stopped early (Ctrl-C/SIGTERM), True when all ran."""
        pending = deque(cases)
        if self.method == "fork":
            warm_up(preload_libraries=True)  # once, in the parent: every forked worker starts warm
        old = self._install_signals()
        workers = [self._spawn() for _ in range(min(self.n, len(cases)))]
        timeout = self.settings.timeout_s
        try:
            while workers and (pending or any(w.case for w in workers)):
                for msg in self.flags.messages:
                    on_message(msg)
                self.flags.messages.clear()
                if self.flags.abort:
                    for w in workers:
                        if w.case is not None:
                            on_message(f"aborted: {w.case.case_id} (it will run again on --resume)")
                        self._kill(w)
                    workers = []
                    break
                for w in workers:
                    if w.ready and w.case is None and pending and not self.flags.stop:
                        w.case = pending.popleft()
                        w.started = time.monotonic()
                        w.conn.send(w.case.model_dump(mode="json"))
                if self.flags.stop and not any(w.case for w in workers):
                    break
                now = time.monotonic()
                deadlines = [w.started + timeout - now for w in workers if w.case is not None and timeout]
                wait_s = max(0.05, min([0.5, *deadlines]))
                ready = wait([w.conn for w in workers] + [w.proc.sentinel for w in workers], timeout=wait_s)
                lost = 0
                for w in list(workers):
                    if w.conn in ready:
                        try:
                            kind, payload = w.conn.recv()
                        except (EOFError, OSError):
                            kind, payload = "dead", None
                        if kind == "ready":
                            w.ready = True
                            continue
                        if kind == "done":
                            w.case, w.cases_done = None, w.cases_done + 1
                            on_record(CaseRecord.model_validate(payload))
                            continue
                    if not w.proc.is_alive() or (w.conn in ready and kind == "dead"):
                        w.proc.join(timeout=1)
                        if not w.ready:
                            raise RuntimeError(f"a batch worker failed to start (exit code {w.proc.exitcode}); run one case with "
                                               "`cardioagent analyze --debug` to see why")  # fmt: skip
                        if w.case is not None:
                            on_record(self._fail(w, "worker_crash", f"worker process died (exit code {w.proc.exitcode}) while running this case"))
                        self._kill(w)
                        workers.remove(w)
                        lost += 1
                    elif w.case is not None and timeout and time.monotonic() - w.started > timeout:
                        self._kill(w)
                        on_record(self._fail(w, "timeout", f"timed out after {timeout:g} s (worker killed)"))
                        workers.remove(w)
                        lost += 1
                # A fresh worker per lost one, while cases remain (forked: it starts warm).
                workers.extend(self._spawn() for _ in range(min(lost, len(pending))) if not self.flags.stop)
            return not (self.flags.stop or self.flags.abort or pending)
        finally:
            for w in workers:
                try:
                    w.conn.send(None)
                except (BrokenPipeError, OSError):
                    pass
            for w in workers:
                w.proc.join(timeout=5)
                self._kill(w)
            if old is not None:
                signal.signal(signal.SIGINT, old[0])
                signal.signal(signal.SIGTERM, old[1])
