"""Optimization algorithms over NNCF (algorithms) and their typed options and sweeps (recipes).
"""
