"""Reusable widgets of the app (plots, dataset preview, model summary, hyper-parameter form)."""
