"""Exceptions raised by symgraph, and the helper that names the user's line.

Every error a user can trigger derives from :class:`SymgraphError` and from the
built-in exception a Python user would expect (``ValueError`` for shapes and
feeds, ``TypeError`` for dtypes), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

import functools
import os
import sys
import threading

from .core.shapes import shape_str

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

#: The documentation site, in this one place (pyproject.toml's Documentation URL is the
#: same; a test keeps them equal). Its pages are the files of ``docs/``: ``docs/errors.md``
#: is ``errors.html``.
DOCS_URL = "https://symgraph.readthedocs.io/en/latest/"


def docs_hint(page: str, anchor: str = "") -> str:
    """The end of a message that names a fix: the docs page that explains it, as a URL
    of the site and as the file in the source tree.

    Args:
        page: a page of ``docs/`` without ``.md`` (``"errors"``, ``"keras2"``).
        anchor: the section, as its heading's anchor (``"feeds"`` for ``## Feeds``).

    Example:
        >>> docs_hint("errors", "feeds")
        'see https://symgraph.readthedocs.io/en/latest/errors.html#feeds (docs/errors.md)'

    ``tests/test_error_docs.py`` checks that every page and section hinted at exists.
    """
    fragment = f"#{anchor}" if anchor else ""
    return f"see {DOCS_URL}{page}.html{fragment} (docs/{page}.md)"


# filename -> whether frames of that file are symgraph's own (or frozen importlib's).
# Every node records the user's line, so the walk runs once per op built: a dict hit on
# the (hash-cached) filename string is cheaper than two ``startswith`` per frame.
_INTERNAL_FILES: dict[str, bool] = {}


def user_frame() -> tuple[str, int] | None:
    """Return ``(filename, lineno)`` of the innermost frame outside symgraph."""
    frame = sys._getframe(1)
    internal = _INTERNAL_FILES
    while frame is not None:
        filename = frame.f_code.co_filename
        inside = internal.get(filename)
        if inside is None:
            inside = filename.startswith(_PACKAGE_DIR) or filename.startswith("<frozen")
            if len(internal) > 4096:  # generated code with unique names: stay bounded
                internal.clear()
            internal[filename] = inside
        if not inside:
            return filename, frame.f_lineno
        frame = frame.f_back
    return None


def format_location(location: tuple[str, int] | None) -> str:
    """Format a ``(file, line)`` pair as ``file:line`` (empty when unknown)."""
    if location is None:
        return ""
    return f"{location[0]}:{location[1]}"


def created_at(node) -> str:
    """`` (created at file:line)`` for a node, or an empty string when unknown."""
    where = format_location(node.location)
    return f" (created at {where})" if where else ""


class SymgraphError(Exception):
    """Base class of every error symgraph raises on purpose.

    Example:
        >>> import numpy as np, symgraph.backend as K
        >>> from symgraph.errors import SymgraphError
        >>> try:
        ...     K.dot(K.placeholder((None, 3)), K.variable(np.ones((4, 2))))
        ... except SymgraphError as error:
        ...     print(type(error).__name__, isinstance(error, ValueError))
        ShapeError True
    """


class ShapeError(SymgraphError, ValueError):
    """Shapes that cannot work together (known at build time or at run time).

    Example:
        >>> import numpy as np, symgraph.backend as K
        >>> K.dot(K.placeholder((None, 3)), K.variable(np.ones((4, 2))))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
            ...
        symgraph.errors.ShapeError: dot: contracted dimensions differ: 3 vs 4 ...
    """


class DTypeError(SymgraphError, TypeError):
    """A dtype an op cannot accept.

    Example:
        >>> import symgraph.backend as K
        >>> K.cumsum(K.constant([True, False], dtype="bool"))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
            ...
        symgraph.errors.DTypeError: cumsum (in cumulative): cumulative sums/products of bool ...
    """


class FeedError(SymgraphError, ValueError):
    """A placeholder was not fed, or was fed an array of the wrong rank, size or dtype.

    Example:
        >>> import numpy as np, symgraph.backend as K
        >>> x = K.placeholder((None, 3), name="x")
        >>> K.function([x], [x * 2.0])([np.ones((2, 4), "float32")])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
            ...
        symgraph.errors.FeedError: placeholder 'x...' (created at ...) expects shape (None, 3) ...
    """


class GraphError(SymgraphError, ValueError):
    """A malformed graph: tensors of different graphs mixed, unknown ops, bad arguments.

    Example:
        >>> import symgraph.backend as K
        >>> old = K.placeholder((None, 2))
        >>> K.clear_session()
        >>> old + K.placeholder((None, 2))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
            ...
        symgraph.errors.GraphError: add: input '...' belongs to another graph ...
    """


class GradientError(SymgraphError, TypeError):
    """A gradient was asked through an op that cannot provide one.

    Example:
        >>> import symgraph.backend as K
        >>> v = K.variable([1.0, 2.0])
        >>> K.gradients(K.argmax(v), [v])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
            ...
        symgraph.errors.GradientError: gradients: the loss '...' has dtype int64; only float ...
    """


class GraphFileError(SymgraphError, ValueError):
    """A graph file that cannot be written or read: not a symgraph file, damaged,
    hostile (unknown ops, bad references, absurd sizes, zip bombs), or from a newer
    format version. The message names the file and, where there is one, the node.

    Example:
        >>> import symgraph
        >>> symgraph.io.loads(b"not a graph file")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
            ...
        symgraph.errors.GraphFileError: <graph bytes>: not a symgraph graph file ...
    """


def describe_inputs(inputs) -> str:
    """Describe tensors as ``(shape dtype, ...)`` for error messages."""
    parts = []
    for t in inputs:
        shape = getattr(t, "shape", None)
        dtype = getattr(t, "dtype", None)
        parts.append(f"{shape_str(shape)} {dtype}")
    return ", ".join(parts)


def op_error(cls: type[SymgraphError], op_name: str, inputs, detail: str,
             location: tuple[str, int] | None = None) -> SymgraphError:
    """Build an error naming the op, its inputs' shapes and dtypes, and the user's line."""
    if location is None:
        location = user_frame()
    where = format_location(location)
    msg = f"{op_name}: {detail}"
    if inputs:
        msg += f" [inputs: {describe_inputs(inputs)}]"
    if where:
        msg += f" (created at {where})"
    return cls(msg)


_IN_KERAS_CALL = threading.local()  # .depth: nesting of backend calls on this thread


def named_for_the_caller(name: str, fn):
    """``fn`` (a backend function), such that a build error raised by an op it lowers to
    names the function the user called: ``logsumexp (in max): axis 5 is out of range``
    rather than only ``max: ...``. Only the outermost backend call renames, so
    ``categorical_crossentropy`` is named, not the ``sum`` it calls."""
    @functools.wraps(fn)
    def call(*args, **kwargs):
        depth = getattr(_IN_KERAS_CALL, "depth", 0)
        _IN_KERAS_CALL.depth = depth + 1
        try:
            return fn(*args, **kwargs)
        except SymgraphError as exc:
            if depth == 0:
                head, sep, rest = str(exc).partition(": ")
                if sep and head != name and head.isidentifier():
                    raise type(exc)(f"{name} (in {head}): {rest}") from None
            raise
        finally:
            _IN_KERAS_CALL.depth = depth
    return call
