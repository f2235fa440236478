"""`python -m core.worker --queue QUEUE`: a worker serving one queue (a target), e.g. on a benchmark
machine that reaches the lab's database and Redis (README "Scale out"); see core.jobs.worker."""

import sys

from core.jobs.worker import main

if __name__ == "__main__":
    sys.exit(main())
