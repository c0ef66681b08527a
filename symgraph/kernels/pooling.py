"""Max pooling of channels-last float32 arrays with SIMD vectors over the channels.

NumPy's route (``ops.conv.pool_channels_last``) takes the maximum of one strided view
per window offset, reading and writing a whole output-sized buffer per offset. This
kernel reads each window's rows as vectors of 16 channels and writes every output once
(``benchmarks/bench_conv.py``). Channels must be a multiple of 16 (every vector load
inside its pixel); the caller pads the input with -inf for 'same' windows and checks
the bounds here before the kernel runs.
"""

from __future__ import annotations

import functools

import numpy as np

from . import cache
from .parallelism import launch_loaders, threads_for

LANES = 16  # simd.LANES (simd imports numba, which this module leaves to first use)


@functools.cache  # generated once: launches look it up per call
def _source(parallel: bool) -> str:
    from .simd import source_digest

    loop = "prange" if parallel else "range"
    return (f"# simd {source_digest()}\nimport numpy as np\n"
            f"from numba import njit{', prange' if parallel else ''}\n"
            "from symgraph.kernels.simd import vload, vmax, vstore\n\n"
            f"@njit(cache=CACHE, nogil=True, error_model='numpy'"
            f"{', parallel=True' if parallel else ''})\n"
            "def maxpool(x, out, N, H, W, C, OH, OW, KH, KW, sh, sw):\n"
            f"    for n in {loop}(N):\n"
            "        for oh in range(OH):\n"
            "            for ow in range(OW):\n"
            "                ob = np.uintp(((n * OH + oh) * OW + ow) * C)\n"
            "                first = np.uintp(((n * H + oh * sh) * W + ow * sw) * C)\n"
            "                for cb in range(0, C, 16):\n"
            "                    acc = vload(x, first + cb)\n"
            "                    for kh in range(KH):\n"
            "                        row = np.uintp(((n * H + oh * sh + kh) * W + ow * sw) * C)\n"
            "                        for kw in range(KW):\n"
            "                            acc = vmax(acc, vload(x, row + kw * C + cb))\n"
            "                    vstore(out, ob + cb, acc)\n")


def usable(dtype, channels: int, rank: int) -> bool:
    """Whether :func:`max_pool` takes arrays of this dtype, channel count and rank."""
    return np.dtype(dtype) == np.float32 and channels % LANES == 0 and channels > 0 \
        and rank in (1, 2)


def max_pool(xp: np.ndarray, pool_size, strides, out_spatial) -> np.ndarray:
    """Max pooling of padded channels-last ``xp`` (N, W, C) or (N, H, W, C).

    Args:
        xp: float32, C a multiple of 16, padded with -inf where windows overhang.
        pool_size, strides: per spatial dim.
        out_spatial: the output's spatial shape (the caller's window plan).

    Returns:
        (N, *out_spatial, C) float32.

    Example:
        >>> x = np.arange(64, dtype=np.float32).reshape(1, 2, 2, 16)
        >>> float(max_pool(x, (2, 2), (2, 2), (1, 1))[0, 0, 0, 0])
        48.0
    """
    if xp.ndim == 3:  # 1-D: one row
        return max_pool(xp[:, None], (1, *pool_size), (1, *strides),
                        (1, *out_spatial))[:, 0]
    n, h, w, c = xp.shape
    (kh, kw), (sh, sw), (oh, ow) = pool_size, strides, out_spatial
    if not usable(xp.dtype, c, 2):
        raise ValueError(f"max_pool takes float32 with a multiple of {LANES} channels, "
                         f"got {xp.dtype} with {c}")
    if (oh and (oh - 1) * sh + kh > h) or (ow and (ow - 1) * sw + kw > w):
        raise ValueError(f"pooling windows of output {(oh, ow)} fall outside the padded "
                         f"input {xp.shape}")
    out = np.empty((n, oh, ow, c), dtype=np.float32)
    if out.size:
        run = launch_loaders(threads_for(out.size * kh * kw),
                             lambda: cache.load(_source(False)).maxpool,
                             lambda: cache.load(_source(True)).maxpool)
        run(np.ascontiguousarray(xp).reshape(-1), out.reshape(-1), n, h, w, c, oh, ow,
            kh, kw, sh, sw)
    return out
