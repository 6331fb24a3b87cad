from typing import Any, Sequence

import numpy as np
import numpy.typing as npt

CPU_PATHS: tuple[str, ...]
DTYPE_CODES: dict[np.dtype[Any], int]
FI_F32: int
FI_F64: int
FI_F16: int
FI_BF16: int
FI_DIST_CONSTANT: int
FI_DIST_UNIFORM: int
FI_DIST_NORMAL: int
FI_DIST_TRUNCNORM: int
FI_TN_NORMAL: int
FI_TN_UNIFORM: int
FI_TN_EXP: int
FI_TN_EXP_NEG: int
FI_PATH_GENERIC: int
FI_PATH_AVX2: int
FI_PATH_AVX512: int

def supported_cpu_paths() -> tuple[str, ...]: ...
def cpu_path() -> str: ...
def set_cpu_path(name: str) -> str: ...

class Kernel:
    # built by __cinit__ (so __new__ here); `dtype` is a readonly attribute
    def __new__(cls, dist: int, dtype: npt.DTypeLike, key: Sequence[int], p0: float, p1: float,
                lo: float, hi: float, za: float = ..., zb: float = ..., tn_method: int = ...,
                tn_alpha: float = ..., tn_m2: float = ..., max_attempts: int = ...) -> Kernel: ...
    @property
    def dtype(self) -> np.dtype[Any]: ...
    def fill(self, out: npt.NDArray[Any], start: int,
             n_threads: int = ...) -> npt.NDArray[Any]: ...
    def fill_runs(self, out: npt.NDArray[Any], starts: npt.NDArray[np.int64], run_length: int,
                  n_threads: int = ...) -> npt.NDArray[Any]: ...
    def xla_operands(self) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.float64]]: ...

def fill_constant(out: npt.NDArray[Any], value: Any, n_threads: int = ...) -> npt.NDArray[Any]: ...

XLA_PARAMS_LAYOUT: int
XLA_PARAMS_SIZE: int

def xla_fill_handler() -> Any: ...
