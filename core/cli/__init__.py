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
from core.jobs.runner import routed_to

# Commands that submit a job: each takes --target QUEUE.
SUBMITTING = {*(kind.replace("_", "-") for kind in jobs.ALGORITHM_HELP), "sweep", "sensitivity", "ignore-worst",
              "recover", "ab", "evaluate", "generate-bench"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core", description="Optimization Lab CLI")
    sub = parser.add_subparsers(dest="command", required=True)
    commands = {}
    for group in (data, jobs, measure, results, admin):
        commands.update(group.register(sub))
    for name, p in sub.choices.items():
        p.add_argument("--json", action="store_true", help="print JSON")
        if name in SUBMITTING:
            p.add_argument("--target", metavar="QUEUE", help="the queue whose workers run the job (a machine or "
                           "device, see `workers`); default OPTLAB_QUEUE")
    args = parser.parse_args(argv)
    try:
        with routed_to(getattr(args, "target", None)):
            return commands[args.command](args)
    except AppError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
