"""The kernel layer: what a numba kernel needs to be written, compiled, cached and run.

Generated source is loaded through :mod:`.cache`; :mod:`.source` writes the header and
signatures every kernel module shares, :mod:`.inputs` the argument conversions and
layout patterns, :mod:`.parallelism` picks the serial or ``prange`` twin of a launch,
:mod:`.vmath` holds the vectorizable math kernels inline, :mod:`.simd` an explicit
16-lane float32 vector type for register-tiled kernels, and :mod:`.copies`,
:mod:`.reductions`, :mod:`.direct_conv` (convolutions) and :mod:`.pooling` (max
pooling) are kernels of their own. It imports only ``symgraph.core``,
``symgraph.errors`` and ``symgraph.config``: ops, the compiler and the runtime all
stand on it.
"""
