"""`cardioagent llm …`: check the configured model; ask a follow-up question.

  cardioagent llm check [--backend openai|transformers] [--base-url URL] [--model NAME] [--model-dir DIR] [--json]
      probe the endpoint: served model, token counting, chat, tool calls,
      JSON-schema output. Exit 0 when the orchestrator can use it, 1 when not.
  cardioagent llm ask CASE "question" [--backend rules|openai|transformers] [--db FILE] [--json]
      answer a follow-up on an analysed case; CASE is a thread id or a
      report.json. Tools can be re-run (e.g. another QTc formula) when the
      case's thread is in the threads database; else the answer uses the
      report's results only.
  cardioagent llm config
      print the effective settings (file, environment), API key hidden.
"""

from __future__ import annotations

import argparse
import json
import sys

EXIT_OK, EXIT_NOT_READY, EXIT_USAGE = 0, 1, 2


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = __doc__.split("\n\n", 1)[1]
    sub = parser.add_subparsers(dest="llm_command", metavar="ACTION")

    c = sub.add_parser("check", help="probe the configured LLM: model, tool calls, JSON-schema output")
    c.add_argument("--backend", choices=["openai", "transformers"], help="default: $CARDIO_LLM if it names one of these, else openai")
    c.add_argument("--base-url", help="OpenAI-compatible endpoint incl. /v1 (default $CARDIO_LLM_BASE_URL or http://127.0.0.1:8000/v1)")
    c.add_argument("--model", help="served model name (default: the first the endpoint lists)")
    c.add_argument("--model-dir", help="local model directory (transformers backend)")
    c.add_argument("--timeout", type=float, help="read timeout in seconds")
    c.add_argument("--json", action="store_true", help="machine-readable output")

    a = sub.add_parser("ask", help="ask a follow-up question about an analysed case")
    a.add_argument("case", metavar="CASE", help="a report.json written by `cardioagent analyze`, or a case thread id")
    a.add_argument("question", help="e.g. 'what was the QTc by Fridericia?'")
    a.add_argument("--backend", choices=["rules", "openai", "transformers"], help="default: $CARDIO_LLM or rules")
    a.add_argument("--db", metavar="FILE", help="threads database (default $CARDIO_HOME/threads.sqlite)")
    a.add_argument("--json", action="store_true", help="print the full answer object as JSON")

    sub.add_parser("config", help="print the effective LLM settings")


def _overrides(args: argparse.Namespace) -> dict:
    return {"base_url": getattr(args, "base_url", None), "model": getattr(args, "model", None),
            "model_dir": getattr(args, "model_dir", None), "timeout_s": getattr(args, "timeout", None)}  # fmt: skip


def cmd_check(args: argparse.Namespace) -> int:
    import os

    from agent.backends.check import check_openai, check_transformers
    from agent.backends.config import load_config

    try:
        config = load_config(**_overrides(args))
    except ValueError as exc:
        print(f"cardioagent llm check: {exc}", file=sys.stderr)
        return EXIT_USAGE
    backend = args.backend or (os.environ.get("CARDIO_LLM") if os.environ.get("CARDIO_LLM") in ("openai", "transformers") else "openai")
    report = check_openai(config) if backend == "openai" else check_transformers(config)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print("\n".join(report.lines()))
    return EXIT_OK if report.ok else EXIT_NOT_READY


def cmd_ask(args: argparse.Namespace) -> int:
    from agent.chat import ChatError, answer

    try:
        result = answer(args.case, args.question, args.backend, checkpoint_db=args.db)
    except ChatError as exc:
        print(f"cardioagent llm ask: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(result.model_dump_json(indent=2))
        return EXIT_OK
    print(result.text)
    for p in result.passages:
        print(f"\n  [G:{p.id}] {p.citation()}\n    {p.text}")
    for r in result.references:
        print(f"  threshold source: {r.short()}")
    for c in result.tool_calls:
        print(f"  re-ran {c.tool} on {c.study_id} with {c.options}: {'ok' if c.ok else 'FAILED — ' + str(c.error)}")
    for n in result.notes:
        print(f"  note: {n}")
    g = result.grounding
    print(f"  ({result.backend}{', fallback' if result.fell_back else ''}; sentences kept {g.sentences_kept}/{g.sentences_checked}, "
          f"numbers traced {g.numbers_traced}/{g.numbers_checked})")  # fmt: skip
    return EXIT_OK


def cmd_config(args: argparse.Namespace) -> int:
    from agent.backends.config import config_path, load_config
    from agent.backends.openai_backend import describe_config

    try:
        config = load_config()
    except ValueError as exc:
        print(f"cardioagent llm config: {exc}", file=sys.stderr)
        return EXIT_USAGE
    path = config_path()
    print(f"config file: {path} ({'present' if path.is_file() else 'absent'})")
    print(describe_config(config))
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    command = getattr(args, "llm_command", None)
    if command is None:
        print("usage: cardioagent llm {check,ask,config} … (see cardioagent llm --help)", file=sys.stderr)
        return EXIT_USAGE
    return {"check": cmd_check, "ask": cmd_ask, "config": cmd_config}[command](args)
