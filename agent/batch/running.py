"""The in-progress marker: who is running a case right now, and is it still alive?

Why: after `kill -9` of a Ray driver, the tasks it had submitted may keep
running as orphans (Ray does not tie them to the driver the way the local
engine's `PR_SET_PDEATHSIG` ties its workers). A `--resume` that reran such
a case would clear its folder under the orphan's feet and the two would race
to write it. So every case writes `case.running.json` (host, pid, the
process's start time) when it starts and removes it after its final marker;
a thread refreshes its mtime as a heartbeat. A resumed batch waits for cases
whose owner is still alive before planning them, and leaves alone any that
are still running when it gives up waiting.

Liveness: on the same host, the pid must exist *and* have the recorded start
time (a reused pid is not the owner). On another host (a cluster on a shared
filesystem) the process cannot be inspected, so the heartbeat decides: a
marker touched within `STALE_AFTER_S` counts as alive.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from agent.atomic import atomic_write_text

RUNNING_MARKER = "case.running.json"
HEARTBEAT_S = 2.0
STALE_AFTER_S = 60.0  # generous: a long C call holding the GIL delays the heartbeat


class RunningOwner(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str
    pid: int
    start_ticks: int | None = None  # /proc/<pid>/stat field 22: tells a reused pid apart


def _start_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its closing one.
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[19])  # field 22 overall


def _pid_alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        try:
            os.kill(pid, 0)  # no /proc (not Linux): existence only
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return "\nState:\tZ" not in status and "\nState:\tX" not in status


def this_process() -> RunningOwner:
    return RunningOwner(host=socket.gethostname(), pid=os.getpid(), start_ticks=_start_ticks(os.getpid()))


def read_owner(case_dir: Path) -> RunningOwner | None:
    try:
        return RunningOwner.model_validate(json.loads((case_dir / RUNNING_MARKER).read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError):
        return None


def owner_alive(case_dir: Path, now: float | None = None) -> bool:
    """Is the process named in this case's in-progress marker still running it?"""
    owner = read_owner(case_dir)
    if owner is None:
        return False
    if owner.host == socket.gethostname():
        if not _pid_alive(owner.pid):
            return False
        ticks = _start_ticks(owner.pid)
        return owner.start_ticks is None or ticks is None or ticks == owner.start_ticks
    try:
        age = (time.time() if now is None else now) - (case_dir / RUNNING_MARKER).stat().st_mtime
    except OSError:
        return False
    return age < STALE_AFTER_S


class RunningMarker:
    """Context manager for one case: write the marker, heartbeat, remove it."""

    def __init__(self, case_dir: Path, interval_s: float = HEARTBEAT_S):
        self.path = case_dir / RUNNING_MARKER
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> RunningMarker:
        atomic_write_text(self.path, this_process().model_dump_json())
        self._thread = threading.Thread(target=self._beat, name="case-heartbeat", daemon=True)
        self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                os.utime(self.path)
            except OSError:
                return

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval_s + 1)
        self.path.unlink(missing_ok=True)


def wait_for_orphans(case_dirs: Iterable[Path], max_wait_s: float | None, on_message: Callable[[str], None] = lambda m: None,
                     poll_s: float = 0.5) -> set[str]:  # fmt: skip
    """Wait until no case in `case_dirs` is held by a live process.

    Returns the names of the case folders still held when `max_wait_s`
    passed (None: wait as long as it takes); the caller must not touch them.
    """
    live = {d for d in case_dirs if owner_alive(d)}
    if not live:
        return set()
    on_message(f"waiting for {len(live)} case(s) still running from an earlier, killed run: "
               + ", ".join(sorted(d.name for d in live)[:10]))  # fmt: skip
    deadline = None if max_wait_s is None else time.monotonic() + max_wait_s
    while live and (deadline is None or time.monotonic() < deadline):
        time.sleep(poll_s)
        live = {d for d in live if owner_alive(d)}
    return {d.name for d in live}
