"""Bringing models and data in: safe uploads and unzip (files), model reading / conversion /
inspection (models), models stored and imported (model_intake), image folders (datasets), arrays and
tables, any dataset opened as samples (sources), preprocessing baked into an IR. Knows nothing of jobs.
"""
