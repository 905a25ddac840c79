"""CNN Workbench engine: datasets, model zoo, training, evaluation, inference and the run store.

This package is a library. It never imports Qt or pyqtgraph (a test enforces it), so everything the
app does can be done from Python or from the command line without a screen. Its layers and the
absence of import cycles are checked too: pyproject.toml [tool.importlinter], tests/test_import_graph.py.
"""

__version__ = "0.1.0"
