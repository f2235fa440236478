"""`python -m core ...`: the lab's command line, over the same core the pages use.

One module per command group (data, jobs, measure, results, admin); each registers its sub-commands and
returns the function that runs each one. Errors the user can fix (AppError) print one line and
exit with code 2.
"""

from __future__ import annotations

import argparse
import sys

from core.cli import admin, data, jobs, measure, results
from core.errors import AppError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core", description="Optimization Lab CLI")
    sub = parser.add_subparsers(dest="command", required=True)
    commands = {}
    for group in (data, jobs, measure, results, admin):
        commands.update(group.register(sub))
    for p in sub.choices.values():
        p.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    try:
        return commands[args.command](args)
    except AppError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
