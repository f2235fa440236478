"""Comparing stored results: the results table with Pareto front and pick (table), A/B (ab),
plotly figures (figures) and the Overview's lists (overview).
"""
