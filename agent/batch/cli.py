"""`cardioagent batch`: reports for a folder of case folders or a manifest.

Exit codes: 0 every case reported; 1 the batch finished but some cases
failed (see failures.csv); 2 bad input or usage (every manifest problem is
listed, nothing runs); 3 internal error; 130 stopped by Ctrl-C (rerun with
--resume to continue). Kept import-light: heavy modules load in `run`.
"""

from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_CASES_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

EPILOG = """\
input:
  a folder of case folders   one sub-folder per case (its name is the case id); all files
                             inside are the case's inputs; an optional context.json/.yaml
                             gives age, sex, height_cm, weight_kg, indication, notes
  a CSV or JSONL manifest    columns case_id, files (paths separated by ';', relative to
                             the manifest, or a JSON list), and optional context columns
                             age, sex, height_cm, weight_kg, indication, notes, context

examples:
  cardioagent batch studies/ --out reports/ --workers 2
  cardioagent batch manifest.csv --out reports/ --resume            continue after a crash or Ctrl-C
  cardioagent batch manifest.jsonl --out reports/ --engine ray --ray-address auto

outputs: reports/cases/<case_id>/report.{json,html,pdf,fhir.json}[, report.sr.dcm for DICOM
inputs], reports/cohort.{csv,parquet}, measurements.{csv,parquet}, failures.{csv,parquet},
summary.html, batch.json. A case counts as done when cases/<case_id>/case.done.json exists.
exit codes: 0 all cases reported, 1 some cases failed, 2 bad input or usage, 3 internal error,
130 interrupted (rerun with --resume)
"""


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = EPILOG
    p.add_argument("input", metavar="INPUT", help="folder of case folders, or a .csv/.jsonl manifest")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created; must be new or an earlier batch's folder)")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="parallel cases (local: worker processes; ray: concurrent tasks). Default 1")
    p.add_argument("--engine", choices=["local", "ray"], default="local", help="local worker processes (default) or Ray tasks")
    p.add_argument("--ray-address", metavar="ADDR", help="Ray cluster to join ('auto' or ray://host:10001); default: start a local Ray instance")
    p.add_argument("--ray-gpus-per-case", type=float, default=0.0, metavar="G", help="GPUs reserved per case task on Ray (e.g. 0.25 to pack four cases per GPU)")
    p.add_argument("--ray-cpus-per-case", type=float, default=1.0, metavar="C", help="CPUs reserved per case task on Ray (default 1)")
    p.add_argument("--resume", action="store_true", help="continue the batch in --out: skip cases whose inputs and configuration are unchanged")
    p.add_argument("--formats", default="json,html,pdf,fhir,sr", help="comma-separated: json,md,html,pdf,fhir,sr (default json,html,pdf,fhir,sr; sr only for DICOM inputs)")
    p.add_argument("--timeout", type=float, default=900.0, metavar="S", help="per-case wall-clock limit in seconds (0: none). Default 900")
    p.add_argument("--backend", choices=["rules", "openai", "transformers"], help="orchestrator backend (default: $CARDIO_LLM or rules)")
    p.add_argument("--strict", action="store_true", help="fail a case when any of its inputs is unusable (default: report the usable ones and list the rest)")
    p.add_argument("--no-retrieval", action="store_true", help="skip guideline retrieval (faster; reports cite no guideline passages)")
    p.add_argument("--no-threads", action="store_true", help="do not keep each case's conversation thread (saves ~0.4 MB per case in DIR/.batch/threads)")
    p.add_argument("--weights", action="append", default=[], metavar="TOOL.OPTION=PATH",
                   help="user weights for an expert, e.g. ecg_analyze.classifier_weights=/models/ecgfounder.pth or ecgfounder=PATH "
                        "(repeatable; aliases ecgfounder, echonet-seg, echonet-ef, cmr, varnet; also $CARDIO_WEIGHTS=\"KEY=PATH;KEY=PATH\", "
                        "this flag wins per setting); their content hash is part of the configuration, so --resume reruns cases "
                        "made with other weights")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--debug", action="store_true", help="print tracebacks of internal errors")


def run(args: argparse.Namespace) -> int:
    from agent.batch.manifest import ManifestError
    from agent.batch.run import BatchUsageError, run_batch
    from agent.batch.settings import ALL_FORMATS, BatchSettings
    from agent.weights import WeightsError, collect_weights, resolve_weights

    formats = tuple(dict.fromkeys(f.strip() for f in args.formats.split(",") if f.strip()))
    unknown = sorted(set(formats) - set(ALL_FORMATS))
    if unknown:
        print(f"cardioagent batch: unknown format(s): {', '.join(unknown)} (choose from {', '.join(ALL_FORMATS)})", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.workers < 1:
        print("cardioagent batch: --workers must be at least 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        weights, origins = collect_weights(args.weights)
        resolve_weights(weights, origins)  # every problem, naming the flag or variable and the file, before anything runs
    except WeightsError as exc:
        print(f"cardioagent batch: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    settings = BatchSettings(out_dir=args.out, formats=formats, backend=args.backend, strict=args.strict, weights=weights,
                             retrieval=not args.no_retrieval, timeout_s=args.timeout or None, keep_threads=not args.no_threads)  # fmt: skip
    ray_options = {"address": args.ray_address, "gpus_per_case": args.ray_gpus_per_case, "cpus_per_case": args.ray_cpus_per_case}
    try:
        outcome = run_batch(args.input, settings, engine=args.engine, workers=args.workers, resume=args.resume, quiet=args.quiet,
                            ray_options=ray_options if args.engine == "ray" else None)  # fmt: skip
    except ManifestError as exc:
        for p in exc.problems:
            print(f"error: {p.line()}", file=sys.stderr)
        print(f"cardioagent batch: {len(exc.problems)} problem(s) in {args.input}; nothing was run", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BatchUsageError as exc:
        print(f"cardioagent batch: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"Batch: {outcome.cases} case(s): {outcome.skipped} already done, {outcome.ran} run "
          f"({outcome.ok} reported, {outcome.failed} failed) in {outcome.wall_s:.1f} s"
          + (f", {outcome.cases_per_minute:g} cases/min" if outcome.ran else ""))  # fmt: skip
    for name in ("summary.html", "cohort.csv", "failures.csv"):
        if name in outcome.outputs:
            print(f"  {name:13s} {outcome.outputs[name]}")
    if not outcome.completed:
        print(f"cardioagent batch: stopped before the end; rerun with --resume to continue (out: {args.out})", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_CASES_FAILED if outcome.failed else EXIT_OK
