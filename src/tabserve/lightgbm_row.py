"""One row through LightGBM's own single-row entry point, for a bare LightGBM classifier.

LightGBM's C API has a prediction made for one row at a time
(``LGBM_BoosterPredictForMatSingleRowFast``): its configuration is parsed once
(``...FastInit``) and each call passes only the row. It is the library's own
prediction, so the probabilities are the bits ``Booster.predict`` gives, without
the Python wrapper's per-call set-up (argument checks, a new array, a
configuration string parsed again), which is most of a single row's cost.
The row and the result live in buffers made once; a lock keeps them to one
caller at a time (the library releases the GIL while it predicts).
"""

from __future__ import annotations

import ctypes
import logging
import threading
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

_NORMAL = 0  # C_API_PREDICT_NORMAL: probabilities, as predict_proba
_FLOAT64 = 1  # C_API_DTYPE_FLOAT64
_ROW_MAJOR = 1


class LightgbmRow:
    """Class probabilities for one row from a fitted LightGBM booster; see the module docstring."""

    joinable = True  # a library call: rows that arrive together are cheaper scored together

    def __init__(self, booster: Any, iterations: int, width: int, classes: int) -> None:
        from lightgbm.basic import _LIB

        self._booster = booster  # keeps the handle the configuration points into alive
        self.width = width
        self.binary = classes == 2
        self.row = np.zeros(width, dtype=np.float64)
        self.output = np.zeros(1 if self.binary else classes, dtype=np.float64)
        self._length = ctypes.c_int64(0)
        self._config = ctypes.c_void_p()
        status = _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
            booster._handle,
            ctypes.c_int(_NORMAL),
            ctypes.c_int(0),
            ctypes.c_int(iterations),
            ctypes.c_int(_FLOAT64),
            ctypes.c_int32(width),
            ctypes.c_char_p(b"num_threads=1"),
            ctypes.byref(self._config),
        )
        if status != 0:
            raise RuntimeError(_LIB.LGBM_GetLastError().decode(errors="replace"))
        self._free = _LIB.LGBM_FastConfigFree
        self._call = _LIB.LGBM_BoosterPredictForMatSingleRowFast
        self._args = (
            self._config,
            self.row.ctypes.data_as(ctypes.c_void_p),
            ctypes.byref(self._length),
            self.output.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
        )
        self.lock = threading.Lock()

    def predict_row(self, row: list[float]) -> list[float]:
        """Class probabilities for one row of floats or NaN (missing)."""
        if len(row) != self.width:
            raise ValueError(f"expected {self.width} values, got {len(row)}")
        with self.lock:
            self.row[:] = row
            if self._call(*self._args) != 0:
                raise ValueError("LightGBM could not score the row")
            found = self.output.tolist()
        if self.binary:
            return [1.0 - found[0], found[0]]
        return found

    def __del__(self) -> None:
        config = getattr(self, "_config", None)
        if config is not None and config.value:
            self._free(config)


def lightgbm_row(model: Any, width: int) -> LightgbmRow | None:
    """The single-row path of a bare LightGBM classifier, or None (with the reason logged at debug)
    when the library has no such entry point or will not set it up for this model."""
    booster = model.booster_
    best = model.best_iteration_
    # As Booster.predict picks its iterations when given None: the best iteration, or all (<= 0).
    iterations = best if best and best > 0 else (booster.best_iteration or 0)
    try:
        return LightgbmRow(booster, iterations if iterations > 0 else -1, width, len(model.classes_))
    except (AttributeError, RuntimeError) as exc:
        log.debug("no LightGBM single-row path: %s", exc)
        return None
