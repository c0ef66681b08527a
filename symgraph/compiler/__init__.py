"""The compiler: prune, fuse, generate numba code for fused groups, plan execution."""
