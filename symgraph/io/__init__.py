"""Graph files: save a compiled function to one file and load it back, safely.

A graph file is a zip holding ``graph.json`` (the graph: nodes with op, inputs,
attributes, static shape, dtype, name and name scope; the function's inputs, outputs
and updates; a versioned schema, see docs/graph-files.md) and ``arrays.npz`` (the
values of variables, constants and placeholder defaults). Loading never runs code
from the file: no pickle (``.npy`` headers are parsed, object dtypes refused), no
``eval``, no imports; ops are looked up in symgraph's registry by name, and all of the
file is validated before a node is built. The loaded function gives bit-identical
results.

Example:
    >>> import numpy as np, symgraph, symgraph.backend as K
    >>> x = K.placeholder(shape=(None, 3))
    >>> w = K.variable(np.ones((3, 2)))
    >>> f = K.function([x], [K.relu(K.dot(x, w))])
    >>> data = symgraph.io.dumps(f)
    >>> g = symgraph.io.loads(data)
    >>> [t.name for t in g.inputs] == [t.name for t in f.inputs]
    True
"""

from __future__ import annotations

import io
import os
import tempfile

from ..core import services
from ..errors import GraphFileError
from .archive import Archive, write
from .reader import build, parse_json, validate
from .schema import DEFAULT_MAX_BYTES, FORMAT, VERSION
from .writer import document

__all__ = ["DEFAULT_MAX_BYTES", "FORMAT", "VERSION", "GraphFileError", "dumps", "load",
           "loads", "save"]


def dumps(obj, *, inputs=None) -> bytes:
    """The bytes of the graph file of ``obj``.

    Args:
        obj: a compiled :class:`~symgraph.runtime.function.Function` (what
            ``K.function`` returns), or output tensors (one or a list) with ``inputs``.
        inputs: the placeholders the loaded function is fed, in order (only with
            output tensors).

    Returns:
        The file's bytes (a zip archive; see :func:`save`).

    Raises:
        GraphFileError: when ``obj`` cannot be saved.

    Example:
        >>> import symgraph, symgraph.backend as K
        >>> x = K.placeholder(shape=(None, 3), name="x")
        >>> data = symgraph.io.dumps(K.function([x], [K.relu(x)]))
        >>> data[:2]   # a zip archive
        b'PK'
    """
    graph_json, arrays = document(obj, inputs)
    buffer = io.BytesIO()
    write(buffer, graph_json, arrays)
    return buffer.getvalue()


def save(obj, path, *, inputs=None) -> None:
    """Write ``obj`` (a Function, or outputs with ``inputs``) to the graph file ``path``.

    The file is written next to ``path`` and renamed into place, so a reader never sees
    a half-written file.

    Args:
        obj: a compiled Function, or output tensors with ``inputs``.
        path: where to write (any extension; ``.sg`` is customary).
        inputs: the placeholders to feed, in order (only with output tensors).

    Example:
        >>> import os, tempfile, numpy as np, symgraph, symgraph.backend as K
        >>> x = K.placeholder(shape=(None, 3), name="x")
        >>> f = K.function([x], [K.relu(x * 2.0)])
        >>> path = os.path.join(tempfile.mkdtemp(), "model.sg")
        >>> symgraph.save(f, path)
        >>> g = symgraph.load(path)
        >>> g([np.array([[-1.0, 0.0, 2.0]], "float32")])
        [array([[0., 0., 4.]], dtype=float32)]
    """
    data = dumps(obj, inputs=inputs)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".sg-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path, *, max_bytes: int = DEFAULT_MAX_BYTES):
    """Load the graph file ``path`` as a compiled function.

    Args:
        path: a graph file written by :func:`save` (or a binary file object).
        max_bytes: refuse files whose arrays (or any node's static size) need more than
            this many bytes.

    Returns:
        A :class:`~symgraph.runtime.function.Function` with the saved inputs, outputs
        and updates (or the one-output wrapper ``K.function`` returns for one tensor).

    Raises:
        GraphFileError: for anything wrong with the file, naming the file and the node.

    Example:
        >>> import os, tempfile, symgraph, symgraph.backend as K
        >>> x = K.placeholder(shape=(None, 3), name="x")
        >>> path = os.path.join(tempfile.mkdtemp(), "model.sg")
        >>> symgraph.save(K.function([x], [K.sum(x, axis=1)]), path)
        >>> g = symgraph.load(path)
        >>> len(g.inputs), g.output_shapes([(4, 3)])
        (1, [(4,)])
    """
    label = os.fspath(path) if isinstance(path, (str, os.PathLike)) else \
        getattr(path, "name", "<graph file>")
    return _read(path, str(label), max_bytes)


def loads(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES):
    """Load a graph file from its bytes (see :func:`load`).

    Example:
        >>> import numpy as np, symgraph, symgraph.backend as K
        >>> x = K.placeholder(shape=(None, 2), name="x")
        >>> g = symgraph.io.loads(symgraph.io.dumps(K.function([x], [x + 1.0])))
        >>> g([np.zeros((1, 2), "float32")])
        [array([[1., 1.]], dtype=float32)]
        >>> symgraph.io.loads(b"not a graph file")
        Traceback (most recent call last):
            ...
        symgraph.errors.GraphFileError: <graph bytes>: not a symgraph graph file ...
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise GraphFileError(f"loads: expected bytes, got {type(data).__name__}")
    return _read(io.BytesIO(bytes(data)), "<graph bytes>", max_bytes)


def _read(source, label: str, max_bytes: int):
    if type(max_bytes) is not int or max_bytes < 0:
        raise ValueError(f"max_bytes must be a non-negative integer, got {max_bytes!r}")
    with Archive(source, label, max_bytes) as archive:
        doc = parse_json(archive.read_graph_json(), label)
        checked = validate(doc, archive.array_specs(), label, max_bytes)
        return build(checked, archive, label)


# tier 0's compile child (runtime.compile_worker) writes and reads graph files
services.lend(dumps=dumps, load=load)
