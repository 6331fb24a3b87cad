from typing import Any

import numpy as np
import numpy.typing as npt

ROW_BITS: int
RADIX_BINS: int

def band_scan(keys: npt.NDArray[np.float32], row0: int, lo24: int, hi24: int,
              below: npt.NDArray[np.int64], band: npt.NDArray[np.uint64],
              count: npt.NDArray[np.int64], out: npt.NDArray[Any], out_row0: int,
              out_col0: int) -> None: ...
def band_finish(k: int, below: npt.NDArray[np.int64], band: npt.NDArray[np.uint64],
                count: npt.NDArray[np.int64], failed: npt.NDArray[np.uint8],
                out: npt.NDArray[Any], out_row0: int, out_col0: int) -> None: ...
def radix_count(keys: npt.NDArray[np.float32], cols: npt.NDArray[np.int64],
                prefix: npt.NDArray[np.uint32], shift: int, hist: npt.NDArray[np.int64]) -> None: ...
def radix_zero(keys: npt.NDArray[np.float32], row0: int, cols: npt.NDArray[np.int64],
               limit: npt.NDArray[np.uint32], ties: npt.NDArray[np.int64],
               out: npt.NDArray[Any], out_row0: int, out_col0: int) -> None: ...
