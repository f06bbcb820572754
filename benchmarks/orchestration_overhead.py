"""Orchestration overhead per case, and LLM calls/tokens per case.

What is measured: for each bundled example ECG (real PhysioNet records, the
real ECG expert), `agent.runner.analyze` end to end, then
  overhead = wall time − time inside expert tools − time waiting for the LLM
(tool time from the report's provenance, LLM time from the backend's usage
counter). The overhead is the graph itself: intake, planning loop,
checkpointing every node to SQLite, tool-call validation, retrieval switched
off, composition, verification, rendering JSON/MD/HTML. Target: ≤ 50 ms.

Backends compared in the same process (the rules backend is the baseline):
  rules     deterministic planner and composer
  scripted  the agentic loop with an in-process model that answers instantly
            (cooperative: one tool call per study, then a grounded draft)
  openai    the same model behind the OpenAI wire format on a local HTTP
            server (tests/llm/fake_server.py, in a child process), i.e. real HTTP
            + JSON parsing;
            or a real endpoint with --base-url (e.g. vLLM on a GPU)

Checkpointing: the product checkpoints every node to SQLite
($CARDIO_HOME/threads.sqlite, `agent.runner.sqlite_checkpointer`). The
benchmark runs each configuration with that checkpointer and again with
LangGraph's in-memory one (patched in this process only), which separates
the graph's own work from checkpoint I/O on this machine's disk.

Tools: with --replay-tools (default) each case's ECG analysis runs once for
real and is replayed afterwards (a deep copy of the same ExpertResult), so
the benchmark is quick and the CPU is not busy with signal processing while
the graph is timed; tool time is excluded from the overhead either way.

LLM calls and tokens per case come from the backend's usage counter: the
server's own counts when it reports them (vLLM does), else its /tokenize
endpoint, else the approximate counter — the column says which. With the
fake server the prompts are the real prompts of each case; the replies are
the scripted model's, so completion tokens are those of a terse model.

Run:  .venv/bin/python benchmarks/orchestration_overhead.py [--repeat 3] [--cases ludb-1,mitdb-100]
      .venv/bin/python benchmarks/orchestration_overhead.py --base-url http://gpu:8000/v1   # real model
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CASES = ["ludb-1", "ptb-s0010_re", "macecgdb-test01_00s", "cinc2015-a103l", "mitdb-100"]


def replay_tools() -> None:
    """Run each study's real analysis once, then replay its result."""
    from experts import registry
    from experts.core.types import Modality

    tool_cls = type(registry.load_tool(Modality.ECG))
    real = tool_cls.analyze
    cache: dict[str, object] = {}

    def replay(self, study, patient, options, output_dir):
        key = study.files[0] + repr(sorted(options.model_dump().items()))
        if key not in cache:
            cache[key] = real(self, study, patient, options, output_dir)
        return cache[key].model_copy(deep=True)

    tool_cls.analyze = replay


def use_memory_checkpointer(on: bool, _orig={}) -> None:
    import agent.runner as runner

    _orig.setdefault("sqlite", runner.sqlite_checkpointer)
    if not on:
        runner.sqlite_checkpointer = _orig["sqlite"]
        return
    from contextlib import contextmanager

    from langgraph.checkpoint.memory import InMemorySaver

    @contextmanager
    def memory(path=None):
        yield InMemorySaver()

    runner.sqlite_checkpointer = memory


def run_case(case: str, backend, out_root: Path, db: Path) -> dict:
    from agent.runner import analyze

    t0, c0 = time.perf_counter(), time.process_time()
    outcome = analyze([REPO / "examples" / "ecg" / case], None, out_root / case, backend=backend, retrieval=False, strict=False,
                      checkpoint_db=db)  # fmt: skip
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    r = outcome.report
    assert r is not None, f"{case}: no report ({outcome.problems})"
    tools = sum(c.runtime_s for c in r.provenance.tool_calls)
    usage = getattr(backend, "usage", None)
    llm = usage.seconds if usage else 0.0
    return {
        "case": case,
        "wall_s": wall,
        "tools_s": tools,
        "llm_s": llm,
        "overhead_ms": (wall - tools - llm) * 1000,
        # CPU time of this process (all threads) minus tool time and the CPU
        # the model calls took in this process (client work, or the whole
        # in-process scripted model): what the graph costs without waiting
        # for a busy machine's scheduler or the disk
        "cpu_overhead_ms": max(0.0, cpu - tools - (usage.cpu_seconds if usage else 0.0)) * 1000,
        "llm_cpu_ms": (usage.cpu_seconds if usage else 0.0) * 1000,
        "llm_calls": usage.calls if usage else 0,
        "prompt_tokens": usage.prompt_tokens if usage else 0,
        "completion_tokens": usage.completion_tokens if usage else 0,
        "token_counter": usage.token_counter if usage else "-",
        "composer": r.grounding.composer,
        "sentences_removed": r.grounding.sentences_removed,
        "fell_back": r.grounding.fell_back,
        "tool_calls": len(r.provenance.tool_calls),
        "node_ms": {k: round(v * 1000, 1) for k, v in r.provenance.node_timings_s.items()},
    }


def _serve(conn) -> None:  # child process: the fake OpenAI server
    from tests.llm.fake_server import FakeOpenAIServer

    with FakeOpenAIServer() as server:
        conn.send(server.base_url)
        conn.recv()  # until the parent says stop


class FakeServerProcess:
    """The fake server in its own process, so its CPU time is not counted
    as this process's orchestration CPU."""

    def __enter__(self):
        import multiprocessing as mp

        ctx = mp.get_context("fork")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child,), daemon=True)
        self.proc.start()
        self.base_url = self.conn.recv()
        return self

    def __exit__(self, *exc):
        self.conn.send("stop")
        self.proc.join(timeout=10)


def make_backend(kind: str, server=None, args=None):
    from agent.backends.config import LLMConfig
    from agent.backends.openai_backend import OpenAIBackend
    from agent.backends.rules import RulesBackend
    from tests.llm.scripted import scripted_backend

    if kind == "rules":
        return RulesBackend()
    if kind == "scripted":
        return scripted_backend()
    base_url = args.base_url or server.base_url
    return OpenAIBackend(LLMConfig(base_url=base_url, model=args.model, timeout_s=args.timeout, max_retries=1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per case and backend (after one warm-up)")
    ap.add_argument("--backends", default="rules,scripted,openai")
    ap.add_argument("--base-url", help="a real OpenAI-compatible endpoint for the 'openai' backend")
    ap.add_argument("--model")
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--json", type=Path, help="write all rows here")
    ap.add_argument("--checkpointers", default="sqlite,memory", help="sqlite (as the product runs), memory (graph work alone)")
    ap.add_argument("--no-replay-tools", dest="replay", action="store_false", help="run the real tool on every run")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    os.environ["CARDIO_HOME"] = tempfile.mkdtemp(prefix="cardio-bench-")
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    cases = [c for c in args.cases.split(",") if c]
    kinds = [k for k in args.backends.split(",") if k]
    out_root = Path(tempfile.mkdtemp(prefix="cardio-bench-out-"))
    db = out_root / "threads.sqlite"

    server = FakeServerProcess() if "openai" in kinds and not args.base_url else None
    if server:
        server.__enter__()
    if args.replay:
        replay_tools()
    rows: list[dict] = []
    modes = [m for m in args.checkpointers.split(",") if m]
    try:
        for case in cases:  # warm-up: imports, caches, the replayed tool results
            run_case(case, make_backend("rules", server, args), out_root / "warmup", db)
        for mode in modes:
            use_memory_checkpointer(mode == "memory")
            for kind in kinds:
                for case in cases:
                    for i in range(args.repeat):
                        row = run_case(case, make_backend(kind, server, args), out_root / f"{mode}-{kind}-{i}", db)
                        row["backend"], row["checkpointer"] = kind, mode
                        rows.append(row)
    finally:
        use_memory_checkpointer(False)
        if server:
            server.__exit__(None, None, None)

    print(f"load average before the runs: {load_before}; cases: {', '.join(cases)}; {args.repeat} timed run(s) each")
    print(f"{'ckpt':6s} {'backend':9s} {'case':22s} {'wall s':>7s} {'tools s':>7s} {'llm s':>6s} {'overhead ms':>11s} {'cpu ms':>6s} {'calls':>5s} "
          f"{'prompt tok':>10s} {'compl tok':>9s} counter      composer")  # fmt: skip
    for mode, kind, case in [(m, k, c) for m in modes for k in kinds for c in cases]:
            rs = [r for r in rows if r["backend"] == kind and r["case"] == case and r["checkpointer"] == mode]
            med = lambda key: statistics.median(r[key] for r in rs)  # noqa: E731
            last = rs[-1]
            print(f"{mode:6s} {kind:9s} {case:22s} {med('wall_s'):7.2f} {med('tools_s'):7.2f} {med('llm_s'):6.3f} {med('overhead_ms'):11.1f} {med('cpu_overhead_ms'):6.1f} "
                  f"{last['llm_calls']:5d} {last['prompt_tokens']:10d} {last['completion_tokens']:9d} {last['token_counter']:12s} "
                  f"{last['composer']}{' (fell back)' if last['fell_back'] else ''}")  # fmt: skip
    print()
    base = statistics.median(r["overhead_ms"] for r in rows if r["backend"] == kinds[0] and r["checkpointer"] == modes[0])
    for mode, kind in [(m, k) for m in modes for k in kinds]:
        rs = [r for r in rows if r["backend"] == kind and r["checkpointer"] == mode]
        ov = statistics.median(r["overhead_ms"] for r in rs)
        worst = max(r["overhead_ms"] for r in rs)
        cpu = statistics.median(r["cpu_overhead_ms"] for r in rs)
        calls = statistics.mean(r["llm_calls"] for r in rs)
        tokens = statistics.mean(r["prompt_tokens"] + r["completion_tokens"] for r in rs)
        print(f"{mode:6s} {kind:9s} overhead per case: median {ov:6.1f} ms (CPU {cpu:5.1f} ms), worst {worst:6.1f} ms, ratio to "
              f"{modes[0]}/{kinds[0]} {ov / base:4.2f}; LLM calls/case {calls:.1f}, tokens/case {tokens:.0f}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
        print(f"rows written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
