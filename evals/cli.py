"""`cardioagent eval`: run evaluation suites and write the leaderboard.

    cardioagent eval SUITE... [--backend rules|openai|transformers] [--out DIR]
    cardioagent eval all --limit 5          every suite, at most 5 cases per source
    cardioagent eval smoke                  the CI subset (< 3 min)
    cardioagent eval path/to/cases/         your own case folders (case.yaml each)
    cardioagent eval --list | --leaderboard | --rescore RUN_DIR...

Exit codes: 0 every case ran (whatever its scores), 1 a case errored or a
case.yaml is invalid (see the summary), 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

EPILOG = """\
suites: ecg-real ecg-synthetic echo-sim cmr-sim recon-sim multimodal mirage chat smoke (or 'all')
output: DIR/<suite>/<timestamp>/{cases/*.json,summary.json,summary.md,summary.html}
        and DIR/leaderboard.{md,html,csv} over every run found under DIR
case format and metric definitions: docs/EVALS.md
"""


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("suites", nargs="*", metavar="SUITE", help="suite names, 'all', or folders of case folders")
    parser.add_argument("--backend", choices=["rules", "openai", "transformers"], help="orchestrator backend (default: $CARDIO_LLM or rules)")
    parser.add_argument("--out", default="results", metavar="DIR", help="results root (default: results)")
    parser.add_argument("--limit", type=int, metavar="N", help="at most N cases per source in each suite (reduced run)")
    parser.add_argument("--full", action="store_true", help="every case a suite can build (default: each suite's default size)")
    parser.add_argument("--case", action="append", metavar="PATTERN", help="only cases whose id matches (shell wildcards; repeatable)")
    parser.add_argument("--retrieval", choices=["case", "on", "off"], default="case",
                        help="guideline retrieval: as each case says (default), always, or never")  # fmt: skip
    parser.add_argument("--work", metavar="DIR", help="where generated inputs go (default: a temporary folder, removed afterwards)")
    parser.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="bootstrap resamples for the CIs (default 1000)")
    parser.add_argument("--rescore", nargs="+", metavar="RUN_DIR", help="score finished runs again from their stored reports (after a metric change)")
    parser.add_argument("--list", action="store_true", help="list the suites and exit")
    parser.add_argument("--leaderboard", action="store_true", help="only rebuild DIR/leaderboard.* from the runs under DIR")
    parser.add_argument("--latest", action="store_true", help="leaderboard: newest run per suite/backend/model/version only")
    parser.add_argument("--quiet", action="store_true", help="no per-case lines")


def _expand(names: list[str]) -> list[str]:
    from evals.harness.suite import ALL_SUITES

    out: list[str] = []
    for n in names:
        for x in ALL_SUITES if n == "all" else [n]:
            if x not in out:
                out.append(x)
    return out


def run(args: argparse.Namespace) -> int:
    from evals.harness.leaderboard import write_leaderboard
    from evals.harness.suite import SUITES, BuildContext, get_suite, load_built

    out_root = Path(args.out)
    if args.list:
        for name in SUITES:
            print(f"{name:15s} {get_suite(name).description}")
        return 0
    if args.rescore:
        from evals.harness.runner import rescore_run

        roots: list[Path] = []
        for d in args.rescore:
            run_dir = Path(d)
            if not (run_dir / "summary.json").is_file():
                print(f"cardioagent eval: {run_dir} is not a run folder (no summary.json)", file=sys.stderr)
                return 2
            rescore_run(run_dir, args.bootstrap)
            print(f"rescored {run_dir}")
            if run_dir.resolve().parents[1] not in roots:
                roots.append(run_dir.resolve().parents[1])  # <root>/<suite>/<run>
        for root in roots:
            print(f"leaderboard: {write_leaderboard(root, latest_only=args.latest)['md']}")
        return 0
    if args.leaderboard:
        if not out_root.is_dir():
            print(f"cardioagent eval: no results folder {out_root}", file=sys.stderr)
            return 2
        paths = write_leaderboard(out_root, latest_only=args.latest)
        print(paths["md"].read_text(encoding="utf-8"))
        return 0
    if not args.suites:
        print("cardioagent eval: name at least one suite (or --list)", file=sys.stderr)
        return 2
    names = _expand(args.suites)
    try:
        suites = [get_suite(n) for n in names]
    except KeyError as exc:
        print(f"cardioagent eval: {exc.args[0]}", file=sys.stderr)
        return 2
    if args.limit is not None and args.limit < 1:
        print("cardioagent eval: --limit must be at least 1", file=sys.stderr)
        return 2

    from evals.harness.runner import RunOptions, run_suite

    backend = args.backend or os.environ.get("CARDIO_LLM") or "rules"
    log = (lambda _m: None) if args.quiet else (lambda m: print(m, flush=True))
    work_root = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="cardio-eval-"))
    out_root.mkdir(parents=True, exist_ok=True)
    status = 0
    try:
        for suite in suites:
            t0 = time.perf_counter()
            ctx = BuildContext(work_dir=work_root / suite.name, limit=args.limit, full=args.full, select=args.case)
            ctx.work_dir.mkdir(parents=True, exist_ok=True)
            print(f"{suite.name}: building cases …", flush=True)
            built = suite.build(ctx)
            cases, skipped, bad = load_built(built, suite.name)
            for note in built.notes:
                print(f"  note: {note}")
            for cid, why in skipped:
                print(f"  skipped {cid}: {why}")
            print(f"{suite.name}: {len(cases)} case(s), backend {backend} ({time.perf_counter() - t0:.0f} s to build)", flush=True)
            opts = RunOptions(backend=backend, retrieval=args.retrieval, bootstrap_samples=args.bootstrap,
                              command="cardioagent eval " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["eval"] else sys.argv[1:]),
                              notes=built.notes)  # fmt: skip
            run_dir = run_suite(suite.name, cases, out_root, opts, skipped, bad, log=log)
            summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
            if summary["cases"]["errors"]:
                status = 1
                print(f"{suite.name}: {summary['cases']['errors']} case(s) errored — see the summary", file=sys.stderr)
            print(f"{suite.name}: done in {time.perf_counter() - t0:.0f} s → {run_dir / 'summary.html'}", flush=True)
        paths = write_leaderboard(out_root, latest_only=args.latest)
        print(f"leaderboard: {paths['md']}")
    finally:
        if not args.work:
            shutil.rmtree(work_root, ignore_errors=True)
    return status
