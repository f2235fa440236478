"""Background jobs: submit / run / recover (runner), the queue and its supervisor task (queue), the
worker (worker) and what each job kind does (handlers). The jobs table is the source of truth.
"""
