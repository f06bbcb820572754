"""Live progress: graph events → collapsible "thought" messages in the chat.

Why: an analysis takes seconds to minutes; a clinician must see that work
is happening, which expert runs on which study, and what failed, while the
graph runs. `agent.runner.analyze` calls `on_event` from the graph thread;
`ProgressLog` folds those events into a parent message ("Analysing…") with
one nested message per expert call, rebuilt on every yield.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from experts.core.types import Modality

NODE_TEXT = {
    "intake": "Reading and grouping the files",
    "plan": "Planning which expert analyses each study",
    "agent_step": "Language model reviewing the tool results",
    "retrieve": "Looking up guideline passages for the findings",
    "compose": "Writing the report",
    "verify": "Checking every number and finding against the tool outputs",
    "render": "Writing report files",
}
RUN_ID = "progress"


def expert_name(study_id: str) -> str:
    prefix = study_id.split("-", 1)[0]
    try:
        return f"{Modality(prefix).display} expert"
    except ValueError:
        return "Expert"


@dataclass
class _Call:
    key: str
    title: str
    started: float
    ended: float | None = None
    ok: bool | None = None
    error: str | None = None


@dataclass
class ProgressLog:
    n_files: int
    t0: float = field(default_factory=time.perf_counter)
    lines: list[str] = field(default_factory=list)
    calls: dict[str, _Call] = field(default_factory=dict)
    current: str | None = None
    finished: float | None = None
    failed: bool = False

    def _stamp(self) -> str:
        return f"{time.perf_counter() - self.t0:5.1f} s"

    def handle(self, ev: dict) -> None:
        kind = ev.get("event")
        if kind == "node_start":
            node = ev.get("node", "")
            text = NODE_TEXT.get(node)
            if text and text != self.current:
                self.current = text
                self.lines.append(f"`{self._stamp()}` {text}…")
        elif kind == "intake":
            studies = ev.get("studies") or []
            found = ", ".join(f"{Modality(m).display} ({sid})" for sid, m in studies) or "no analysable study"
            problems = ev.get("problems") or 0
            self.lines.append(f"`{self._stamp()}` Found: {found}" + (f"; {problems} input problem{'s' if problems != 1 else ''}" if problems else ""))
        elif kind == "tool_start":
            key = f"{ev.get('tool')}:{ev.get('study_id')}:{len(self.calls)}"
            sid = str(ev.get("study_id"))
            self.calls[key] = _Call(key=key, title=f"{expert_name(sid)} · {ev.get('tool')} on {sid}", started=time.perf_counter())
        elif kind == "tool_end":
            for call in reversed(list(self.calls.values())):
                if call.ended is None and call.title.endswith(f"{ev.get('tool')} on {ev.get('study_id')}"):
                    call.ended = time.perf_counter()
                    call.ok = bool(ev.get("ok"))
                    call.error = ev.get("error")
                    break
        elif kind == "llm_turn":
            n = ev.get("tool_calls", 0)
            self.lines.append(f"`{self._stamp()}` Language model turn {ev.get('turn')}: {n} tool call{'s' if n != 1 else ''}")

    def finish(self, failed: bool = False) -> None:
        self.finished = time.perf_counter()
        self.failed = failed
        for call in self.calls.values():
            if call.ended is None:
                call.ended = self.finished

    @property
    def elapsed(self) -> float:
        return (self.finished or time.perf_counter()) - self.t0

    def messages(self) -> list[dict]:
        """The progress block as Chatbot messages (parent + one per expert call)."""
        done = self.finished is not None
        title = ("Analysis stopped" if self.failed else "Analysis complete") if done else f"Analysing {self.n_files} file{'s' if self.n_files != 1 else ''}…"
        meta: dict = {"title": title, "id": RUN_ID, "status": "done" if done else "pending"}
        if done:
            meta["duration"] = round(self.elapsed, 1)
        body = "\n\n".join(self.lines) or "Starting…"
        out = [{"role": "assistant", "content": body, "metadata": meta}]
        for call in self.calls.values():
            m: dict = {"title": call.title, "parent_id": RUN_ID, "id": call.key, "status": "done" if call.ended else "pending"}
            if call.ended:
                m["duration"] = round(call.ended - call.started, 1)
            if call.ended is None:
                text = "running…"
            elif call.ok:
                text = "finished"
            else:
                text = f"failed: {call.error or 'unknown error'}"
            out.append({"role": "assistant", "content": text, "metadata": m})
        return out
