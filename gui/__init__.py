"""The PySide6 desktop application: a thin face on :mod:`core`.

``gui.app.run_app`` opens the main window; each tab is its own package (``gui.train``, ...), long
jobs run in workers on a ``QThread`` (``gui.workers``), and reusable widgets live in
``gui.widgets``. Importing this package imports nothing heavy (no TensorFlow, no pyqtgraph).
"""
