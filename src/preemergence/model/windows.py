"""Input pipeline: segments cropped on the fly from the region maps, standardised.

A segment table is never turned into an image stack. A ``WindowSource`` holds the cube of
region maps of one time bin (n_regions, 256, 256, float32, Gauss), one row per window
(region index, x0, y0, label) and the standardisation constants; a batch is cut with one
fancy-indexing gather on a strided sliding-window view of the cube (no copy of the cube,
~0.1 ms per 32 windows), then standardised: x = (B - mean) / std (dimensionless),
shape (batch, 85, 85, 1), float32. A background thread prepares the next batch while
TensorFlow runs the current step, so the training step never waits for input.

Field and constants:
  * ``abs_field=False`` (default): B_LOS, with mean_g/std_g of prepare's
    ``standardisation.json`` (mean and std over all PE and NE sample pixels of the time bin).
  * ``abs_field=True`` (uniform-polarity experiment, paper Table 5): |B_LOS|, standardised
    with the mean and std of |B| over the same sample pixels. ``field_standardisation``
    computes them exactly with integral images (O(1) per window); pass the whole
    'sample' subset of the time bin (all folds), as prepare does for B.

``standardise`` is the one standardiser: training batches, evaluation, the interpretation
probes and the full-disk scan all turn fields in G into network inputs through it.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field

import keras
import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from preemergence.core.constants import SEGMENT_SIZE_PX

SIZE = SEGMENT_SIZE_PX


@dataclass
class WindowSource:
    """Windows of one time bin, cropped on demand from ``cube`` (no image stack).

    cube: (n_regions, H, W) float32 maps in G; region: (n,) int row of each window in cube;
    x0, y0: (n,) int window origins (px), window = cube[i, y0:y0+85, x0:x0+85];
    label: (n,) int (1 = PE, 0 = NE); mean, std: standardisation constants (G) of the field
    used (B, or |B| when abs_field).
    """

    cube: np.ndarray = field(repr=False)
    region: np.ndarray
    x0: np.ndarray
    y0: np.ndarray
    label: np.ndarray
    mean: float
    std: float
    abs_field: bool = False
    _windows: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        self.cube = np.ascontiguousarray(self.cube, dtype=np.float32)
        n_regions, height, width = self.cube.shape
        self.region, self.x0, self.y0 = (np.asarray(a, dtype=np.intp)
                                         for a in (self.region, self.x0, self.y0))
        self.label = np.asarray(self.label, dtype=np.float32)
        if not (len(self.region) == len(self.x0) == len(self.y0) == len(self.label)):
            raise ValueError("region, x0, y0 and label must have the same length")
        if len(self.region) and (self.region.min() < 0 or self.region.max() >= n_regions
                                 or min(self.x0.min(), self.y0.min()) < 0
                                 or self.x0.max() > width - SIZE
                                 or self.y0.max() > height - SIZE):
            raise ValueError("a window lies outside the cube")
        if not self.std > 0:
            raise ValueError(f"std must be positive, not {self.std}")
        self._windows = sliding_window_view(self.cube, (SIZE, SIZE), axis=(1, 2))

    def __len__(self) -> int:
        return len(self.region)

    def crop(self, rows) -> np.ndarray:
        """Standardised windows of the given rows: (len(rows), 85, 85, 1) float32."""
        rows = np.asarray(rows, dtype=np.intp)
        fields = self._windows[self.region[rows], self.y0[rows], self.x0[rows]]
        return standardise(fields, self.mean, self.std, self.abs_field, copy=False)

    def fields(self, rows) -> np.ndarray:
        """The windows of the given rows in G, not standardised: (len(rows), 85, 85)."""
        rows = np.asarray(rows, dtype=np.intp)
        return self._windows[self.region[rows], self.y0[rows], self.x0[rows]]


def standardise(fields_g: np.ndarray, mean_g: float, std_g: float, abs_field: bool = False,
                copy: bool = True) -> np.ndarray:
    """Network inputs x = (B - mean) / std (or |B| when abs_field): (n, 85, 85, 1) float32.

    fields_g: (n, h, w) maps in G; mean_g, std_g: the run's standardisation constants (G).
    copy=False lets a float32 array that the caller owns be standardised in place.
    """
    x = np.array(fields_g, dtype=np.float32, copy=copy or None)
    if abs_field:
        np.abs(x, out=x)
    x -= np.float32(mean_g)
    x *= np.float32(1.0 / std_g)
    return x[..., None]


def region_index(region_ids) -> dict[str, int]:
    """Mapping region_id -> row of the cube (RegionStore.regions order)."""
    return {rid: i for i, rid in enumerate(region_ids)}


def source_from_table(cube: np.ndarray, index: dict[str, int], table: pd.DataFrame,
                      mean: float, std: float, abs_field: bool = False) -> WindowSource:
    """A WindowSource from segment-table rows (columns region_id, x0, y0, label)."""
    rows = table["region_id"].map(index)
    if rows.isna().any():
        missing = sorted(set(table.loc[rows.isna(), "region_id"]))[:5]
        raise ValueError(f"region id(s) of the segment table not in the region store: "
                         f"{missing} (segments prepared from another store?)")
    return WindowSource(cube, rows.to_numpy(np.intp), table["x0"].to_numpy(),
                        table["y0"].to_numpy(), table["label"].to_numpy(), mean, std,
                        abs_field)


def field_standardisation(cube: np.ndarray, index: dict[str, int], table: pd.DataFrame,
                          abs_field: bool = False) -> dict:
    """Mean and std (G) of B (or |B|) over all pixels of the table's windows.

    Exact, via integral images of the field and its square (float64). With the 'sample'
    rows of a time bin and abs_field=False this reproduces prepare's standardisation.json.
    """
    from preemergence.data.segments import WindowSums
    rows = table["region_id"].map(index).to_numpy()
    x0, y0 = table["x0"].to_numpy(), table["y0"].to_numpy()
    total, total2 = 0.0, 0.0
    for r in np.unique(rows):
        sel = rows == r
        sums = WindowSums(cube[r])
        total += sums.sum("abs" if abs_field else "b", x0[sel], y0[sel]).sum()
        total2 += sums.sum("b2", x0[sel], y0[sel]).sum()       # |B|^2 = B^2
    n = len(table) * SIZE * SIZE
    mean = total / n
    return {"mean_g": float(mean), "std_g": float(np.sqrt(max(total2 / n - mean ** 2, 0.0))),
            "n_pixels": int(n)}


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """Permutation of n windows for one epoch; depends only on (seed, epoch)."""
    return np.random.default_rng([int(seed), int(epoch)]).permutation(n)


class WindowBatches(keras.utils.PyDataset):
    """Batches (x, y) of a WindowSource: x (b, 85, 85, 1) float32, y (b,) float32.

    Shuffled per epoch by ``epoch_order(n, seed, epoch)`` when shuffle; the last batch may
    be short. Works as a keras PyDataset (``model.fit``), as an iterable of one epoch, and
    random access ``batches[i]``. ``set_epoch(e)`` selects the epoch's order (resume).
    samples_per_epoch: when set, an epoch is the first samples_per_epoch windows of the
    epoch's permutation, so successive epochs see different random subsets.
    """

    def __init__(self, source: WindowSource, batch_size: int = 32, seed: int = 0,
                 shuffle: bool = True, epoch: int = 0, samples_per_epoch: int | None = None):
        super().__init__()
        self.source, self.batch_size = source, int(batch_size)
        self.seed, self.shuffle = seed, shuffle
        self.samples_per_epoch = samples_per_epoch
        self.set_epoch(epoch)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        n = len(self.source)
        order = epoch_order(n, self.seed, epoch) if self.shuffle else np.arange(n)
        self.order = order[:self.samples_per_epoch] if self.samples_per_epoch else order

    def __len__(self) -> int:
        return -(-len(self.order) // self.batch_size)

    def __getitem__(self, i: int):
        rows = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        return self.source.crop(rows), self.source.label[rows]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def on_epoch_end(self):
        self.set_epoch(self.epoch + 1)


def make_batches(source: WindowSource, batch_size: int = 32, seed: int = 0,
                 shuffle: bool = True, epoch: int = 0,
                 samples_per_epoch: int | None = None) -> WindowBatches:
    """Batches of a source for one epoch at a time (see WindowBatches)."""
    return WindowBatches(source, batch_size, seed, shuffle, epoch, samples_per_epoch)


def prefetch(batches, depth: int = 2, stats: dict | None = None):
    """Iterate ``batches`` with the next ``depth`` items prepared in a background thread.

    stats: optional dict; its "wait_s" grows by the seconds the consumer waited for input
    (input stall time). Stopping early (break, exception) stops the thread.
    """
    producer = _Producer(batches, depth)
    try:
        while True:
            start = time.perf_counter()
            item = producer.items.get()
            if stats is not None:
                stats["wait_s"] = stats.get("wait_s", 0.0) + time.perf_counter() - start
            if item is _Producer.DONE:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        producer.close()


class _Producer:
    """A thread filling a bounded queue from an iterable (then DONE, or the exception)."""

    DONE = object()

    def __init__(self, iterable, depth: int):
        self.items: queue.Queue = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(iterable,), daemon=True)
        self.thread.start()

    def _put(self, item) -> bool:
        while not self.stop.is_set():
            try:
                self.items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, iterable):
        try:
            for item in iterable:
                if not self._put(item):
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put(exc)
        self._put(self.DONE)

    def close(self):
        self.stop.set()
        self.thread.join()
