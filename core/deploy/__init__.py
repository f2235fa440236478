"""What deploys a model: IR zip, OVMS repository, DL Streamer and benchmark_app lines (export), the
NNCF reproduction script (script), and the lab's backup / restore (backup).
"""
