"""Optimization Lab core: UI-free domain logic (models, data, optimization, measurement, jobs)."""
