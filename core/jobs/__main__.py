"""`python -m core.jobs run ID | standby`: the job process (core.jobs.runner.main)."""

import sys

from core.jobs.runner import main

sys.exit(main(sys.argv[1:]))
