"""`cardioagent` command line.

Exit codes (stable, for scripts and batch systems):
  0  report written
  2  bad input or usage: unreadable, empty, corrupt, truncated or unsupported
     files, bad arguments — one line per problem on stderr, nothing written;
     also when a report was written but no supplied study could be analysed
     (every tool refused its file: the report lists why)
  3  internal error (a bug: please report it with the traceback from --debug),
     also when no study could be analysed because a tool crashed

Heavy libraries are imported only inside commands, so `--help` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 2, 3

EPILOG = """\
examples:
  cardioagent analyze examples/ecg/ludb-1 --out out/ludb-1
      analyse a WFDB record (header + signal files; folders are scanned)
  cardioagent analyze scan/ --age 63 --sex F --height 165 --weight 70 --out out/case7
      a CMR DICOM series with demographics (BSA indexing, sex-specific ranges)
  cardioagent analyze ecg.hea ecg.dat echo.dcm --context notes.txt
      several modalities in one case; notes are quoted as history, never measured
  cardioagent analyze examples/ecg/ludb-1 --weights ecgfounder=/models/ecgfounder.pth
      add the ECGFounder classifier with published weights you downloaded; also
      echonet-seg=, echonet-ef= (EchoNet-Dynamic), cmr= (CMR U-Net), varnet= (VarNet),
      or TOOL.OPTION=PATH; CARDIO_WEIGHTS="ecgfounder=/m/a.pth;echonet-ef=/m/ef.pt"
      sets them for analyze, ui and batch (--weights wins per setting)
  cardioagent kb search "QTc 510 ms in a woman"
      search the guideline knowledge base

Every number in a report comes from a tool, with unit, tool version and
location in the input. Reports are decision support, not a diagnosis.
exit codes: 0 report written with at least one study analysed; 2 bad input or
usage (nothing written), or a report was written but every study failed on its
file (truncated, corrupt: the report and stderr say which); 3 internal error
"""

# Subcommands implemented in other packages: (module, help). Each module
# exposes configure_parser(parser) and run(args) -> int.
PLUGINS = {
    "kb": ("retrieval.cli", "guideline knowledge base: build | search | stats | add"),
    "llm": ("agent.llm_cli", "LLM backend: check | ask (follow-up questions on a report's thread) | config"),
    "ui": ("ui.cli", "start the clinician web UI (Gradio)"),
    "batch": ("agent.batch.cli", "generate reports for a folder of cases or a manifest"),
    "eval": ("evals.cli", "run evaluation suites and write a leaderboard"),
}


def _version() -> str:
    from agent import __version__

    return f"cardioagent {__version__}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cardioagent",
        description="Agentic cardiac diagnosis assistant: ECG, echo, CMR and k-space in; a grounded, cited report out.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from agent.weights import HELP as weights_help  # stdlib only: --help stays instant

    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    a = sub.add_parser(
        "analyze",
        help="analyse one case (files and folders) and write report.json/.md/.html",
        description="Analyse one case. Each input's modality is detected from its content "
        "(WFDB, DICOM ECG/US/MR, NIfTI, AVI/MP4, HDF5/NPZ k-space, CSV ECG, text notes).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
    )
    a.add_argument("paths", nargs="+", metavar="PATH", help="files or folders of one case")
    a.add_argument("--context", metavar="FILE|TEXT", help="clinical notes (text file, or literal text) or a .json/.yaml with "
                   "age, sex, height_cm, weight_kg, indication, notes; notes are data, never instructions")  # fmt: skip
    a.add_argument("--age", type=float, help="age in years (age-specific thresholds)")
    a.add_argument("--sex", help="female/male (F/M): sex-specific thresholds such as QTc and CMR ranges")
    a.add_argument("--height", type=float, metavar="CM", help="height in cm (with --weight: BSA by Mosteller)")
    a.add_argument("--weight", type=float, metavar="KG", help="weight in kg")
    a.add_argument("--indication", help="reason for the study, quoted in the report")
    a.add_argument("--out", default="out", metavar="DIR", help="output folder (default: out)")
    a.add_argument("--case-id", help="case identifier shown in the report (default: from the first input)")
    a.add_argument("--backend", choices=["rules", "openai", "transformers"], help="orchestrator backend (default: $CARDIO_LLM or rules)")
    a.add_argument("--allow-partial", action="store_true", help="analyse the usable inputs even if some are bad (they are listed in the report)")
    a.add_argument("--formats", default="json,md,html", help="comma-separated: json,md,html[,pdf,fhir,sr] (default json,md,html)")
    a.add_argument("--weights", action="append", default=[], metavar="TOOL.OPTION=PATH", help=weights_help)
    a.add_argument("--quiet", action="store_true", help="no progress lines")
    a.add_argument("--debug", action="store_true", help="print tracebacks of internal errors")

    s = sub.add_parser("schema", help="write the JSON schemas of the data contracts", description="Export JSON schemas (report, expert result, ...).")
    s.add_argument("--out", default="docs/schemas", metavar="DIR",
                   help="folder for the *.schema.json files (default: docs/schemas), e.g. cardioagent schema --out /tmp/schemas")  # fmt: skip

    for name, (_module, help_text) in PLUGINS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_plugin=name)
        try:
            importlib.import_module(_module).configure_parser(p)
        except ModuleNotFoundError:
            p.set_defaults(_missing=True)
    return parser


class _Progress:
    """One line per node and per tool on stderr; a clinician sees work happening."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.t0 = time.perf_counter()

    def __call__(self, ev: dict) -> None:
        if self.quiet:
            return
        t = time.perf_counter() - self.t0
        kind = ev.get("event")
        if kind == "node_start":
            msg = f"{ev['node']} …"
        elif kind == "intake":
            studies = ", ".join(f"{sid} ({mod})" for sid, mod in ev["studies"]) or "none"
            msg = f"intake: {studies}" + (f"; {ev['problems']} input problem(s)" if ev["problems"] else "")
        elif kind == "tool_start":
            msg = f"  {ev['tool']} on {ev['study_id']} …"
        elif kind == "tool_end":
            msg = f"  {ev['tool']} on {ev['study_id']}: " + ("done" if ev["ok"] else f"FAILED — {ev['error']}") + f" ({ev['seconds']:.1f} s)"
        else:
            return
        print(f"[{t:6.1f}s] {msg}", file=sys.stderr, flush=True)


def cmd_analyze(args: argparse.Namespace) -> int:
    from agent.case import load_context
    from agent.runner import analyze

    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    unknown = set(formats) - {"json", "md", "html", "pdf", "fhir", "sr"}
    if unknown:
        print(f"cardioagent: unknown format(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        context = load_context(args.context, age=args.age, sex=args.sex, height_cm=args.height, weight_kg=args.weight,
                               indication=args.indication)  # fmt: skip
    except (ValueError, OSError) as exc:
        from agent.case import context_error_lines

        for line in context_error_lines(exc, context=args.context, age=args.age, height_cm=args.height, weight_kg=args.weight):
            print(f"cardioagent: bad clinical context: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.case_id is not None:
        from agent.case import case_id_problem

        why = case_id_problem(args.case_id)
        if why:
            print(f"cardioagent: --case-id {args.case_id!r}: {why}", file=sys.stderr)
            return EXIT_BAD_INPUT
    from agent.weights import WeightsError, configure, describe

    try:
        weight_files = configure(args.weights)
    except WeightsError as exc:
        print(f"cardioagent: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not args.quiet:
        for line in describe(weight_files):
            print(f"weights: {line}", file=sys.stderr)
    outcome = analyze(args.paths, context, args.out, backend=args.backend, strict=not args.allow_partial, case_id=args.case_id,
                      on_event=_Progress(args.quiet), formats=formats, debug=args.debug)  # fmt: skip
    if not outcome.ok:
        for p in outcome.problems:
            print(f"error: {p.line()}", file=sys.stderr)
        print("cardioagent: no report written (use --allow-partial to analyse the usable inputs anyway)", file=sys.stderr)
        return EXIT_BAD_INPUT
    for p in outcome.problems:
        print(f"warning: not used — {p.line()}", file=sys.stderr)
    r = outcome.report
    assert r is not None
    g = r.grounding
    print(f"Report ({r.status}): {Path(outcome.outputs.get('html', outcome.outputs['json'])).resolve()}")
    print(f"  thread {outcome.thread_id}  (follow-ups: cardioagent llm ask {outcome.thread_id} \"question\")")
    for fmt, path in sorted(outcome.outputs.items()):
        print(f"  {fmt:5s} {path}")
    print(f"  {len(r.sections)} stud{'y' if len(r.sections) == 1 else 'ies'} analysed, {len(r.measurements())} measurements, "
          f"{sum(s.status == 'present' for s in r.statements())} findings; numbers traced {g.numbers_traced}/{g.numbers_checked}")  # fmt: skip
    sr_note = outcome.outputs.get("sr", "")
    if sr_note.endswith(".txt"):
        why = Path(sr_note).read_text(encoding="utf-8").strip()
        print(f"note: --formats sr: {why} (see {sr_note})", file=sys.stderr)
    return _exit_for_failed_studies(r)


def _exit_for_failed_studies(r) -> int:
    """Exit 0 only if at least one supplied study was analysed. When every
    study failed in its tool the report (which lists why) is kept, but a
    script must not take it for a result: 2 if the files were refused
    (truncated, corrupt, unusable), 3 if a tool crashed (a bug)."""
    analysed = {s.study_id for s in r.sections}
    if not r.studies or analysed:
        return EXIT_OK
    failed = [c for c in r.provenance.tool_calls if not c.ok]
    for c in failed:
        print(f"error: {c.error}", file=sys.stderr)
    internal = any((c.error or "").startswith("internal error") for c in failed)
    print("cardioagent: no supplied study could be analysed; the report lists why", file=sys.stderr)
    return EXIT_INTERNAL if internal else EXIT_BAD_INPUT


def cmd_schema(args: argparse.Namespace) -> int:
    from agent.schemas import export_schemas

    for path in export_schemas(Path(args.out)):
        print(path)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        if getattr(args, "_plugin", None):
            if getattr(args, "_missing", False):
                print(f"cardioagent {args.command}: not available in this build", file=sys.stderr)
                return EXIT_INTERNAL
            module = importlib.import_module(PLUGINS[args._plugin][0])
            return int(module.run(args) or 0)
        return {"analyze": cmd_analyze, "schema": cmd_schema}[args.command](args)
    except KeyboardInterrupt:
        print("cardioagent: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # internal error: distinguish from bad input
        if getattr(args, "debug", False):
            raise
        print(f"cardioagent: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
