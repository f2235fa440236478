"""Tasks: how a model's outputs are decoded and judged (classification, detection, segmentation,
text recognition, embeddings, regression). See core/tasks/registry.py for the list."""
