"""Every `cardioagent` command's --help renders as written.

Why: argparse treats '%' in help strings as a format directive, so a help
text such as "LVEF 35% symptomatic" printed argparse's internal dict to the
user (found in `kb search --help`). This walks the whole command tree.
"""

from __future__ import annotations

import argparse

from agent.cli import build_parser


def _walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    yield path, parser
    for action in parser._actions:  # argparse has no public accessor for subparsers
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, (*path, name))


def test_every_help_text_renders_without_format_leaks():
    seen = 0
    for path, parser in _walk(build_parser()):
        text = parser.format_help()
        seen += 1
        assert "option_strings" not in text and "%(" not in text, " ".join(path)
        assert text.strip(), " ".join(path)
    assert seen > 10  # analyze, batch, eval, kb (build/search/stats/add), ui, ...
