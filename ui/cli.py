"""`cardioagent ui`: start the clinician web UI.

    cardioagent ui [--host 127.0.0.1] [--port 7860] [--auth USER:PASS ...] [--share-dir DIR]
                   [--weights ecgfounder=/models/ecgfounder.pth ...]

User weights (`--weights`, or $CARDIO_WEIGHTS set once for a deployment) are
checked before the server starts and are then the defaults of their tools
for every case analysed in this UI process (see agent/weights.py).

Binds to 127.0.0.1 unless told otherwise: exposing patient data on a network
is a decision for whoever starts the server, and then `--auth` (or a proxy
with its own login) should be used too.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1; 0.0.0.0 for the network)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("CARDIO_UI_PORT", "7860")), help="port (default 7860)")
    parser.add_argument("--auth", action="append", metavar="USER:PASS", default=[],
                        help="require a login (basic auth); repeat for several users; or set CARDIO_UI_AUTH=user:pass[,user:pass]")
    parser.add_argument("--share-dir", metavar="DIR",
                        help="folder for case files (uploads, reports, figures; default $CARDIO_HOME/ui/cases); never served "
                             "directly: pages get unguessable links to the files they show")  # fmt: skip
    from agent.weights import HELP as weights_help

    parser.add_argument("--weights", action="append", default=[], metavar="TOOL.OPTION=PATH", help=weights_help)
    parser.add_argument("--verbose", action="store_true", help="log UI events (case ids and counts only) to stderr")


def parse_auth(values: list[str]) -> list[tuple[str, str]]:
    """'user:pass' pairs; raises ValueError naming the bad entry (never its password)."""
    pairs = []
    for raw in values:
        for item in (x for x in raw.split(",") if x.strip()):
            user, sep, password = item.partition(":")
            if not sep or not user.strip() or not password:
                raise ValueError(f"--auth expects USER:PASS, got an entry for user {user.strip() or '?'!r} without a password")
            pairs.append((user.strip(), password))
    return pairs


def run(args: argparse.Namespace) -> int:
    try:
        auth = parse_auth(list(args.auth or []) + ([os.environ["CARDIO_UI_AUTH"]] if os.environ.get("CARDIO_UI_AUTH") else []))
    except ValueError as exc:
        print(f"cardioagent ui: {exc}", file=sys.stderr)
        return 2
    from agent.weights import WeightsError, configure, describe

    try:
        weight_files = configure(getattr(args, "weights", None))
    except WeightsError as exc:
        print(f"cardioagent ui: {exc}", file=sys.stderr)
        return 2
    for line in describe(weight_files):
        print(f"cardioagent ui: weights {line}", file=sys.stderr)
    from agent.runner import cardio_home
    from ui.app import AppConfig, launch_app

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("cardioagent.ui").setLevel(logging.INFO if args.verbose else logging.WARNING)
    home = cardio_home()
    share = Path(args.share_dir).expanduser().resolve() if args.share_dir else home / "ui" / "cases"
    if args.host not in ("127.0.0.1", "localhost", "::1") and not auth:
        print("cardioagent ui: warning: listening on a network interface without --auth; anyone who can reach the port can "
              "upload and read cases", file=sys.stderr)  # fmt: skip
    launch_app(AppConfig(home=home, share_dir=share, auth=auth), host=args.host, port=args.port, block=True)
    return 0
