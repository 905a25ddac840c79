"""Python's garbage collection, kept in the GUI thread.

A collection frees whatever cycles it finds in the thread that happens to trigger it. When that is
a worker thread and the garbage holds a Qt object's wrapper, its C++ destructor takes Qt's locks
there and waits for the GIL while the GUI thread, holding the GIL, waits for those locks: the app
hangs (a deadlock seen in the tests). So collection runs only from a timer in the GUI thread.
"""

from __future__ import annotations

import gc

_collector = None


def collect_garbage_in_gui_thread(interval_s: float = 0.5):
    """Run Python's cyclic garbage collector only in the GUI thread, from a timer (idempotent).

    Left automatic, a collection runs in whichever thread happens to allocate, often the training
    thread; when it frees a Qt object's Python wrapper there, the C++ destructor takes Qt's locks
    and then waits for the GIL while the GUI thread, holding the GIL, waits for those locks: the
    app hangs (seen in the tests). pyqtgraph's ``GarbageCollector`` disables automatic collection
    and checks the same generation thresholds on a timer in the GUI thread instead. Call it from
    the GUI thread before :func:`import_tensorflow` starts, so the import leaves it disabled.
    """
    global _collector
    if _collector is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _collector = GarbageCollector(interval=interval_s)
    gc.disable()  # also when called again: whatever turned automatic collection back on, it stays off
    return _collector
