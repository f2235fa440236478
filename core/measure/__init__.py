"""Measuring models: benchmark_app's method (benchmark), batch sweeps and interleaved runs (sweeps),
per-layer profiles, accuracy (evaluate, agreement), stored accuracy tables, best batch, charts.
"""
