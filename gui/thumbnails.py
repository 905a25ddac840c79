"""Thumbnails made lazily off the GUI thread, kept in a bounded LRU cache.

The gallery asks :meth:`ThumbnailLoader.thumbnail` for a row while it paints. A cached image comes
back at once; a missing one is queued and ``None`` comes back (the delegate paints a placeholder).
Worker threads of a private ``QThreadPool`` turn rows into ``QImage`` objects (``QImage`` may be made
in any thread; ``QPixmap`` may not, and is not needed: the delegate paints the ``QImage`` directly)
and hand them to the GUI thread in batches, which announces them with :attr:`ThumbnailLoader.ready`.

Why it stays fast and small at 50,000 images:

* requests are served newest first (LIFO), the view drops the queued rows that have left the screen
  (:meth:`ThumbnailLoader.retain`) and the queue is bounded, so after a fast scroll the rows on
  screen now are made first and rows scrolled past are forgotten (asked for again if they come back);
* results come back in batches (one queued signal every ``batch_ms``), not one signal per image;
* the cache is bounded in bytes (least recently used out first): caching every thumbnail of
  50,000 images was measured at about 1 GB. Small images (28x28 digits, 32x32 CIFAR) are kept at
  their own size (3 KB each) and enlarged crisply when painted, so the whole MNIST or CIFAR test set
  fits in a few tens of MB; photos are shrunk to the display resolution.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal, Slot
from PySide6.QtGui import QImage

#: What a thumbnail source returns for a row: uint8 H x W x C (C = 1 or 3), never larger than max_side.
Fetch = Callable[[int, int], np.ndarray]

DEFAULT_MAX_BYTES = 96 * 1024 * 1024
MAX_QUEUE = 1024  # requests kept waiting; older ones are dropped (and asked again when seen again)

log = logging.getLogger(__name__)


def array_to_qimage(arr: np.ndarray) -> QImage:
    """A detached ``QImage`` (RGB32, fastest to paint) of a uint8 H x W, H x W x 1 or H x W x 3 array."""
    a = np.asarray(arr)
    if a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim == 3 and a.shape[2] == 4:
        a = a[..., :3]
    if a.ndim == 2:
        a = np.ascontiguousarray(a)
        h, w = a.shape
        img = QImage(a.data, w, h, a.strides[0], QImage.Format.Format_Grayscale8)
    elif a.ndim == 3 and a.shape[2] == 3:
        a = np.ascontiguousarray(a)
        h, w = a.shape[:2]
        img = QImage(a.data, w, h, a.strides[0], QImage.Format.Format_RGB888)
    else:
        raise ValueError(f"cannot make an image of an array of shape {a.shape}")
    # convertToFormat copies, so the QImage no longer points into the numpy buffer.
    return img.convertToFormat(QImage.Format.Format_RGB32)


class _Entry:
    __slots__ = ("image", "side", "native", "nbytes", "error")

    def __init__(self, image: QImage | None, side: int, native: bool, error: str | None = None) -> None:
        self.image = image
        self.side = side  # the max_side it was made for
        self.native = native  # the source image was no larger than that: it never needs remaking
        self.error = error
        self.nbytes = image.sizeInBytes() if image is not None else 64


class ThumbnailCache:
    """Least-recently-used entries, bounded by their total size in bytes."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[int, _Entry] = OrderedDict()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: int) -> bool:
        return key in self._items

    def get(self, key: int) -> _Entry | None:
        entry = self._items.get(key)
        if entry is not None:
            self._items.move_to_end(key)
        return entry

    def put(self, key: int, entry: _Entry) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self.bytes -= old.nbytes
        self._items[key] = entry
        self.bytes += entry.nbytes
        while self.bytes > self.max_bytes and len(self._items) > 1:
            _, gone = self._items.popitem(last=False)
            self.bytes -= gone.nbytes

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0


class ThumbnailLoader(QObject):
    """Makes thumbnails of rows with ``fetch(row, max_side)`` in worker threads; caches them.

    ``ready(rows)`` (GUI thread) lists rows whose thumbnails just arrived. Call :meth:`shutdown`
    before the application ends (the owner's close does).
    """

    ready = Signal(list)
    _delivered = Signal(object)  # (generation, [(row, entry), ...]) from a worker, queued to the GUI thread

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        threads: int = 2,
        batch_ms: float = 30.0,
    ) -> None:
        super().__init__(parent)
        self.cache = ThumbnailCache(max_bytes)
        self._fetch: Fetch | None = None
        self._side = 128
        self._generation = 0
        self._lock = threading.Lock()
        self._queue: deque[int] = deque()
        self._queued: set[int] = set()
        self._inflight: set[int] = set()  # being made, or made and not yet delivered
        self._active = 0
        self._kick_pending = False
        self._stopping = False
        self._batch_s = batch_ms / 1000.0
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max(1, int(threads)))
        self._pool.setExpiryTimeout(5000)
        self._delivered.connect(self._on_delivered)
        self.made = 0  # thumbnails made since the last source change (for tests and the benchmark)

    # -- configuration ---------------------------------------------------------------------------
    def set_source(self, fetch: Fetch | None) -> None:
        """Use ``fetch(row, max_side) -> uint8 array`` from now on; forget everything cached or queued."""
        with self._lock:
            self._generation += 1
            self._fetch = fetch
            self._queue.clear()
            self._queued.clear()
            self._inflight.clear()
        self.cache.clear()
        self.made = 0

    @property
    def resolution(self) -> int:
        return self._side

    def set_resolution(self, side: int) -> None:
        """The largest side thumbnails are made at (cached ones made smaller are remade when painted)."""
        self._side = max(8, int(side))

    # -- asking ------------------------------------------------------------------------------------
    def entry(self, row: int) -> _Entry | None:
        """The cached entry for ``row`` (possibly an error), queueing a (re)make if it is missing or too small."""
        entry = self.cache.get(row)
        if not self._fresh(entry):
            self.request((row,))
        return entry

    def _fresh(self, entry: _Entry | None) -> bool:
        return entry is not None and (entry.error is not None or entry.native or entry.side >= self._side)

    def thumbnail(self, row: int) -> QImage | None:
        """The cached thumbnail of ``row``, or None (then it is on its way, or failed: see :meth:`error`)."""
        entry = self.entry(row)
        return None if entry is None else entry.image

    def error(self, row: int) -> str | None:
        """Why ``row`` has no thumbnail, when making it failed."""
        entry = self.cache.get(row)
        return None if entry is None else entry.error

    def request(self, rows: Iterable[int]) -> None:
        """Queue ``rows`` (GUI thread) unless their thumbnails are cached at the current resolution."""
        rows = [int(r) for r in rows if not self._fresh(self.cache._items.get(int(r)))]
        with self._lock:
            if self._fetch is None or self._stopping:
                return
            for row in rows:
                if row in self._inflight:
                    continue
                if row in self._queued:
                    # Move it to the front: what is painted now matters most.
                    try:
                        self._queue.remove(row)
                    except ValueError:
                        pass
                else:
                    self._queued.add(row)
                self._queue.append(row)
            while len(self._queue) > MAX_QUEUE:
                self._queued.discard(self._queue.popleft())
            kick = bool(self._queue) and not self._kick_pending
            self._kick_pending |= kick
        if kick:
            # One start per turn of the event loop: a paint asks for ~100 rows one at a time, and
            # starting a pool task per row cost more than making the thumbnails.
            QTimer.singleShot(0, self, self._kick)

    def _kick(self) -> None:
        with self._lock:
            self._kick_pending = False
            if self._stopping:
                return
            want = min(self._pool.maxThreadCount(), len(self._queue))
            start = max(0, want - self._active)
            self._active += start
        for _ in range(start):
            self._pool.start(self._drain)

    def retain(self, rows: Iterable[int]) -> None:
        """Forget queued requests for rows not in ``rows`` (the view calls this with what is near the screen)."""
        keep = {int(r) for r in rows}
        with self._lock:
            if not self._queue:
                return
            self._queue = deque(r for r in self._queue if r in keep)
            self._queued &= keep

    def pending(self) -> int:
        """Rows queued or being made (made but not yet delivered ones count too)."""
        with self._lock:
            return len(self._queue) + self._active + len(self._inflight)

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Block until the workers are idle (tests and the benchmark; the GUI never waits)."""
        deadline = time.monotonic() + timeout_s
        while self.pending() and time.monotonic() < deadline:
            time.sleep(0.002)
        return not self.pending()

    # -- the worker side ---------------------------------------------------------------------------
    def _drain(self) -> None:
        """Runs in a pool thread: make thumbnails, newest request first, until the queue is empty."""
        batch: list[tuple[int, _Entry]] = []
        generation = -1
        last = time.monotonic()
        try:
            while True:
                with self._lock:
                    if self._stopping or not self._queue:
                        break
                    row = self._queue.pop()
                    self._queued.discard(row)
                    self._inflight.add(row)
                    fetch, side = self._fetch, self._side
                    if self._generation != generation:
                        if batch:
                            self._delivered.emit((generation, batch))
                            batch = []
                        generation = self._generation
                if fetch is None:
                    with self._lock:
                        self._inflight.discard(row)
                    continue
                batch.append((row, self._make(fetch, row, side)))
                now = time.monotonic()
                if now - last >= self._batch_s:
                    self._delivered.emit((generation, batch))
                    batch, last = [], now
        finally:
            if batch:
                self._delivered.emit((generation, batch))
            with self._lock:
                self._active -= 1

    @staticmethod
    def _make(fetch: Fetch, row: int, side: int) -> _Entry:
        try:
            arr = fetch(row, side)
            image = array_to_qimage(arr)
        except Exception as exc:  # noqa: BLE001 - an unreadable image becomes a placeholder with a reason
            log.debug("thumbnail of row %s not made", row, exc_info=True)
            reason = str(exc) or type(exc).__name__
            return _Entry(None, side, True, error=reason)
        native = max(image.width(), image.height()) < side
        return _Entry(image, side, native)

    @Slot(object)
    def _on_delivered(self, payload) -> None:
        generation, batch = payload
        with self._lock:
            current = generation == self._generation and not self._stopping
            if current:
                self._inflight.difference_update(row for row, _ in batch)
        if not current:
            return
        rows = []
        for row, entry in batch:
            self.cache.put(row, entry)
            rows.append(row)
        self.made += len(rows)
        self.ready.emit(rows)

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Stop the workers (queued rows are dropped) and wait for them."""
        with self._lock:
            self._stopping = True
            self._queue.clear()
            self._queued.clear()
        return self._pool.waitForDone(timeout_ms)
