"""The compiler: prune, fuse, generate numba code, cache kernels, plan execution."""
