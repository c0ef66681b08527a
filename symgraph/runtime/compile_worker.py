"""Compile a function's kernels in a child process, which fills the disk caches.

numba compiles in Python, holding the GIL: a compile in a thread of the calling
process would take turns with the calls it is meant to get out of the way of (a Keras
epoch in tier 0 ran 2-3x slower while its kernels compiled beside it). So tier 0
(``runtime.tiered``) first asks a child process to compile: the child loads the
function from a graph file, runs it once on the first call's feeds (which compiles every
kernel it reaches and writes the kernel and numba caches), and exits. The parent then
builds its compiled runner from the caches, which costs numba's start and a few
milliseconds per kernel.

The child inherits the environment, so it writes the caches the parent reads (the
cache directories come from ``SYMGRAPH_CACHE_DIR`` / ``NUMBA_CACHE_DIR``) and runs with
the parent's thread settings (the serial and parallel variants it compiles are the ones
the parent will launch). A function that cannot be written to a graph file, a graph
file over :data:`MAX_GRAPH_BYTES`, or a child that fails just means the parent compiles
in its own thread, where any real error is raised. ``SYMGRAPH_COMPILE_WORKER=0``
compiles in the thread always.

The child runs at a lower CPU priority (:data:`NICENESS`): where cores are short, the
calls it compiles for come first. A process that exits while its child compiles does
not wait for it: the child finishes on its own, so the next process finds the kernels
in the caches (a short script's exit is not held up by kernels it no longer needs). Run as
``python -m symgraph.runtime.compile_worker FOLDER`` (``FOLDER`` holding ``graph.sg``
and ``feeds.npz``); it prints nothing and exits 0 on success.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from ..core import services  # graph files are symgraph.io's, which stands above the runtime

__all__ = ["MAX_GRAPH_BYTES", "compile_in_child", "enabled"]

#: graph files (variables included) above this size are compiled in the parent's thread
MAX_GRAPH_BYTES = 256 << 20
#: seconds a child may take before the parent gives up on it and compiles itself
TIMEOUT = 900
#: how much lower the child's CPU priority is than the caller's (``os.nice``)
NICENESS = 10


def enabled() -> bool:
    """Whether tier 0 compiles in a child process (``$SYMGRAPH_COMPILE_WORKER``, on by
    default; ``0`` keeps compiles in a thread of this process).

    Example:
        >>> from symgraph.runtime.compile_worker import enabled
        >>> isinstance(enabled(), bool)
        True
    """
    return os.environ.get("SYMGRAPH_COMPILE_WORKER", "1").strip().lower() not in (
        "0", "false", "no", "off")


def compile_in_child(fn, feeds: list, started=None) -> bool:
    """Compile ``fn``'s kernels for ``feeds`` in a child process that fills the caches.

    Args:
        fn: a :class:`~symgraph.runtime.function.Function`.
        feeds: the arrays of one call (their shapes and values pick the kernels).
        started: called once the child runs; when it returns False, the child is
            left to finish on its own (this process is exiting) and False is returned.

    Returns:
        True when the child compiled and ran the function; False when it was not tried
        (switched off, no graph file for this function, too big), failed or was left.
    """
    if not enabled():
        return False
    try:
        data = services.dumps(fn._compile_form())
    except Exception:  # noqa: BLE001 - an op without a graph-file form: compile here
        return False
    if len(data) > MAX_GRAPH_BYTES:
        return False
    # The child removes the folder when it is done: it may outlive this process, which
    # does not wait for it at exit (runtime.tiered), and then still fills the caches.
    folder = tempfile.mkdtemp(prefix="symgraph-compile-")
    try:
        with open(os.path.join(folder, "graph.sg"), "wb") as fh:
            fh.write(data)
        np.savez(os.path.join(folder, "feeds.npz"), *feeds)
        env = dict(os.environ, SYMGRAPH_TIERED="0")
        proc = subprocess.Popen(
            [sys.executable, "-m", "symgraph.runtime.compile_worker", folder],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        shutil.rmtree(folder, ignore_errors=True)
        return False
    if started is not None and not started():
        return False  # the child removes the folder
    try:
        code = proc.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    shutil.rmtree(folder, ignore_errors=True)  # gone already unless the child failed
    return code == 0


def main(argv=None) -> int:
    """The child: load ``FOLDER/graph.sg``, call it once on ``FOLDER/feeds.npz``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m symgraph.runtime.compile_worker FOLDER", file=sys.stderr)
        return 2
    if hasattr(os, "nice"):  # a background job: the caller's calls come first
        try:
            os.nice(NICENESS)
        except OSError:
            pass
    folder = args[0]
    try:
        fn = services.load(os.path.join(folder, "graph.sg"))
        with np.load(os.path.join(folder, "feeds.npz"), allow_pickle=False) as stored:
            feeds = [stored[f"arr_{i}"] for i in range(len(stored.files))]
    finally:  # read once; the caller may have exited already and cannot remove it
        shutil.rmtree(folder, ignore_errors=True)
    fn(feeds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
