"""``vmath`` as generated kernels import it: loaded through the kernel cache.

``vmath.py``'s functions are numba-compiled once per process, or loaded from numba's
disk cache. Imported as a package module, numba would write that cache next to the
installed package (``symgraph/kernels/__pycache__``): it fails on a read-only
site-packages, and it mixes every user's cache files in one place. Loaded from its
source text through :mod:`.cache`, the module lives in symgraph's private cache
directory like every kernel, and so does numba's cache of it (or nothing is written,
when that directory is unusable). ``import symgraph.kernels.vmath`` stays the plain,
uncached module for tests and direct use.
"""

from __future__ import annotations

import os

from . import cache

_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vmath.py")
with open(_PATH, encoding="utf-8") as _fh:
    SOURCE = _fh.read()

vmath = cache.load(SOURCE, shared=True)  # kernels call it: see cache._load_healing
