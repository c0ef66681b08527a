"""Load generated numba kernels, cached in memory and on disk.

A kernel is identified by its generated source. The source (with a header naming
symgraph's, numba's and llvmlite's versions) is written to a content-addressed file
``<cache>/k_<hash>.py`` with a temp file + ``os.replace`` (safe with several
processes), imported as a real module registered in ``sys.modules`` *before* it
runs, and its functions are decorated with ``njit(cache=True)``: a second process
then loads numba's cached machine code instead of compiling again. No numba
internals are touched.

The cache directory is ``$SYMGRAPH_CACHE_DIR``, else ``$NUMBA_CACHE_DIR/symgraph``,
else ``$XDG_CACHE_HOME/symgraph`` (``~/.cache/symgraph``). It is created private
(0700) because numba's cache files are unpickled when loaded; one owned by another
user or writable by others is not used. If the directory cannot be written, kernels
are compiled in memory and one warning says so. A corrupt entry heals: a kernel file
that differs from its source (even undecodable) is rewritten atomically and its numba
files dropped; numba files that fail to load are dropped (the kernel's own, then those
of ``vmath``, which kernels call) and the kernel compiled again. ``vmath`` is loaded
through here too (``cached_vmath``), so symgraph never writes into its installed
package.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import sys
import tempfile
import threading
import types
import warnings

from .._version import __version__
from ..errors import docs_hint

_lock = threading.RLock()  # re-entered: a kernel module imports cached_vmath, loaded here too
_memory: dict[str, types.ModuleType] = {}  # digest -> module
_by_source: dict[str, types.ModuleType] = {}  # the per-call fast path of load()
_disk_state: dict[str, object] = {"dir": None, "checked": False, "usable": False}
_shared: set[str] = set()  # digests of modules that kernels call (vmath): see _load_healing
STATS = {"kernels_loaded": 0, "memory_hits": 0}
_HINT = docs_hint("errors", "cache-directories")  # the rules, and what to do


def _versions_header() -> str:
    import llvmlite
    import numba

    return (f"# symgraph {__version__} numba {numba.__version__} "
            f"llvmlite {llvmlite.__version__}\n")


def cache_dir() -> str:
    """The directory kernels are cached in (it may not exist yet)."""
    explicit = os.environ.get("SYMGRAPH_CACHE_DIR")
    if explicit:
        return explicit
    numba_dir = os.environ.get("NUMBA_CACHE_DIR")
    if numba_dir:
        return os.path.join(numba_dir, "symgraph")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "symgraph")


def _usable_dir() -> str | None:
    directory = cache_dir()
    if _disk_state["checked"] and _disk_state["dir"] == directory:
        return directory if _disk_state["usable"] else None
    _disk_state.update(dir=directory, checked=True, usable=False)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=directory, prefix=".probe", delete=True)
        probe.close()
    except OSError as exc:
        warnings.warn(f"symgraph: kernel cache directory {directory!r} is not writable "
                      f"({exc}); compiled kernels are kept in memory only (set "
                      f"SYMGRAPH_CACHE_DIR to a writable directory; {_HINT})", stacklevel=3)
        return None
    problem = _unsafe(directory)
    if problem:
        warnings.warn(f"symgraph: kernel cache directory {directory!r} {problem}; numba "
                      "unpickles cached files, so it is not used (kernels stay in memory; "
                      f"{_HINT})", stacklevel=3)
        return None
    _disk_state["usable"] = True
    return directory


def _unsafe(directory: str) -> str | None:
    """Why a cache directory may not be trusted (None when it is private)."""
    info = os.stat(directory)
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return "belongs to another user"
    if info.st_mode & 0o022:
        return "is writable by other users"
    return None


def reset() -> None:
    """Forget the in-memory kernels and re-check the cache directory (for tests)."""
    with _lock:
        _memory.clear()
        _by_source.clear()
        _disk_state.update(dir=None, checked=False, usable=False)


class NotCachedError(Exception):
    """Raised by :func:`load` inside :func:`cached_only` for a kernel that numba would
    have to compile (its machine code is not in the disk cache)."""


_PROBE = threading.local()  # .digests: kernels with numba machine code on disk


@contextlib.contextmanager
def cached_only():
    """Within this block, in this thread, :func:`load` only loads: a kernel missing
    from the disk caches raises :class:`NotCachedError` instead of compiling. Tier 0 tries
    this first, in a thread, before it starts a compile child: loading cached machine
    code takes milliseconds per kernel, a child process a second or two to start.

    Example:
        >>> from symgraph.kernels import cache
        >>> try:
        ...     with cache.cached_only():
        ...         cache.load("def f():\\n    return 'never compiled before'\\n")
        ... except cache.NotCachedError:
        ...     print("not cached")
        not cached
    """
    directory = _usable_dir()
    digests: set = set()
    for folder in _numba_folders(directory) if directory is not None else ():
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        digests |= {n[2:n.index(".")] for n in names if n.startswith("k_") and
                    n.endswith(".nbi")}
    _PROBE.digests = digests
    try:
        yield
    finally:
        _PROBE.digests = None


def _numba_folders(directory: str) -> list:
    """Where numba keeps the index files of the kernels in ``directory``: beside them
    (``__pycache__``), or under numba's ``CACHE_DIR`` (``$NUMBA_CACHE_DIR`` when this
    process imported numba) in a folder named as numba's
    ``UserProvidedCacheLocator`` names it (the folder's name and the SHA-1 of its path).
    Should numba name it otherwise, the probe finds nothing and tier 0 compiles in a
    child as before."""
    from numba.core import config as numba_config  # what this process's numba reads

    folders = [os.path.join(directory, "__pycache__")]
    numba_dir = numba_config.CACHE_DIR
    if numba_dir:
        path = os.path.abspath(directory)
        name = f"{os.path.split(path)[-1]}_{hashlib.sha1(path.encode()).hexdigest()}"
        folders.append(os.path.join(numba_dir, name))
    return folders


def load(source: str, shared: bool = False) -> types.ModuleType:
    """Return the module compiled from ``source`` (kernels inside it are lazily
    compiled by numba on first call, or loaded from numba's disk cache). ``shared``:
    a module that other kernels call (``vmath``)."""
    module = _by_source.get(source)  # str hashes are cached: O(1) for a kept source
    if module is not None:
        return module
    full = _versions_header() + source
    digest = hashlib.sha256(full.encode()).hexdigest()[:32]
    with _lock:
        if shared:
            _shared.add(digest)
        module = _memory.get(digest)
        if module is not None:
            STATS["memory_hits"] += 1
            _by_source[source] = module
            return module
        probe = getattr(_PROBE, "digests", None)
        if probe is not None and digest not in probe:
            raise NotCachedError(f"k_{digest}")
        directory = _usable_dir()
        module = None
        if directory is not None:
            try:
                module = _load_healing(directory, digest, full)
            except Exception as exc:
                warnings.warn(f"symgraph: could not use cached kernel k_{digest}.py "
                              f"({type(exc).__name__}: {exc}); compiling in memory; {_HINT}",
                              stacklevel=2)
                module = None
        if module is None:
            module = _load_in_memory(digest, full)
        _memory[digest] = module
        _by_source[source] = module
        STATS["kernels_loaded"] += 1
        return module


def _load_healing(directory: str, digest: str, source: str) -> types.ModuleType:
    """``_load_from_file``, healing a corrupt or half-written numba index/object file
    (numba's cache: pickle, EOF, OS errors): drop this kernel's numba files (written
    again by the next compile) and try once more; failing again, the corrupt files may
    be those of a shared module it calls (numba loads ``vmath``'s machine code from
    vmath's own files while it compiles the kernel): drop those too, and try a last
    time. Raises what the last try raised."""
    try:
        return _load_from_file(directory, digest, source)
    except Exception:
        _drop_numba_cache(directory, digest)
    callees = _shared - {digest}
    if not callees:
        return _load_from_file(directory, digest, source)
    try:
        return _load_from_file(directory, digest, source)
    except Exception:
        for callee in callees:
            _drop_numba_files(directory, callee)
    return _load_from_file(directory, digest, source)


def _module_name(digest: str) -> str:
    return f"symgraph_kernel_{digest}"


def _load_from_file(directory: str, digest: str, source: str) -> types.ModuleType:
    path = os.path.join(directory, f"k_{digest}.py")
    wanted = source.encode("utf-8")
    current = None
    if os.path.exists(path):
        with open(path, "rb") as fh:  # bytes: a corrupt (even non-UTF-8) file is replaced
            current = fh.read()
    if current != wanted:  # missing or corrupt: (re)write atomically
        if current is not None:  # its numba cache was built from something else
            _drop_numba_cache(directory, digest)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".k_{digest}", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(wanted)
        os.replace(tmp, path)
    name = _module_name(digest)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    module.CACHE = True
    sys.modules[name] = module  # numba's cache rebuild looks the module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _drop_numba_cache(directory: str, digest: str) -> None:
    """Remove numba's index and object files of one kernel module (``__pycache__``),
    and the module, to be loaded again."""
    _drop_numba_files(directory, digest)
    sys.modules.pop(_module_name(digest), None)


def _drop_numba_files(directory: str, digest: str) -> None:
    """Remove numba's index and object files of one kernel module (``__pycache__``)."""
    pycache = os.path.join(directory, "__pycache__")
    try:
        names = os.listdir(pycache)
    except OSError:
        return
    for name in names:
        if name.startswith(f"k_{digest}.") and name.endswith((".nbi", ".nbc")):
            try:
                os.remove(os.path.join(pycache, name))
            except OSError:
                pass


def _load_in_memory(digest: str, source: str) -> types.ModuleType:
    name = _module_name(digest)
    module = types.ModuleType(name)
    module.CACHE = False
    sys.modules[name] = module
    exec(compile(source, f"<symgraph kernel {digest}>", "exec"), module.__dict__)
    return module
