"""The graph: owns nodes, stores identical nodes once (hash-consing), names them
uniquely under name scopes, and hands out a networkx view of any part of it."""

from __future__ import annotations

import contextlib
import hashlib
import math
import threading
from collections.abc import Iterable, Iterator
from operator import attrgetter

from .. import config
from ..errors import DTypeError, GraphError, ShapeError, SymgraphError, op_error, user_frame
from . import services

_ids = attrgetter("id")
_shapes = attrgetter("shape")
_dtypes = attrgetter("dtype")
_Tensor = None  # core.tensor.Tensor, bound on first use (graph.py is imported before it)


def _tensor_class():
    global _Tensor
    from .tensor import Tensor

    _Tensor = Tensor
    return Tensor


# Ops whose shape/dtype rule depends on nothing but the inputs' shapes and dtypes, the
# attrs and floatx: their rule runs once per distinct case, and later nodes of the same
# case (every step of a long elementwise chain) take the remembered (shape, dtype).
_PURE_INFER_OPS: set = set()
_INFER_MEMO: dict[tuple, tuple] = {}
_INFER_MEMO_MAX = 1 << 16


def memoize_infer(*ops) -> None:
    """Declare that the rules of ``ops`` are pure in the sense above (errors are not
    remembered: a failing case runs the rule again and raises again)."""
    _PURE_INFER_OPS.update(ops)


class Graph:
    """A computation graph. Use :func:`get_default_graph`; ``K.clear_session()``
    starts a new one.

    Example:
        >>> import symgraph, symgraph.backend as K
        >>> graph = symgraph.get_default_graph()
        >>> K.placeholder((None, 2)).graph is graph
        True
        >>> K.clear_session()
        >>> symgraph.get_default_graph() is graph
        False
    """

    def __init__(self) -> None:
        self._table: dict[tuple, object] = {}
        # (type, value, dtype) of a Python scalar -> its constant node: a shortcut past
        # building the array and ConstValue that key ``_table`` (see ops.leaves.constant)
        self.scalar_constants: dict[tuple, object] = {}
        self._name_counts: dict[str, int] = {}
        self._scopes: list[str] = []
        self.nodes: list = []  # every node in creation order
        self.plan_cache: dict = {}  # compiled plans of K.eval, keyed by outputs
        self.rng_counters: dict[int, int] = {}  # per random node: evaluations so far
        self.uids: dict[str, int] = {}
        self._controls: list[tuple] = []  # control_dependencies contexts (controls, reads)
        self.learning_phase_value: int | None = None  # set_learning_phase
        self.learning_phase_tensor = None  # the placeholder, made on first use
        # [start, end) id ranges of the nodes each gradients() call created
        # (compiler.branches drops the gradients of branches a plan never takes)
        self.gradient_spans: list[tuple[int, int]] = []
        self.lock = threading.RLock()

    # -- naming ---------------------------------------------------------------
    def unique_name(self, base: str) -> str:
        """``base`` under the current name scope, made unique with ``_1``, ``_2``..."""
        if self._scopes:
            base = "/".join([*self._scopes, base])
        counts = self._name_counts
        count = counts.get(base)
        if count is None:
            counts[base] = 0
            return base
        while True:
            count += 1
            candidate = f"{base}_{count}"
            if candidate not in counts:
                counts[base] = count
                counts[candidate] = 0
                return candidate

    @contextlib.contextmanager
    def name_scope(self, name: str) -> Iterator[str]:
        name = str(name).strip("/")
        if not name:
            raise ValueError("name_scope needs a non-empty name")
        self._scopes.append(name)
        try:
            yield "/".join(self._scopes)
        finally:
            self._scopes.pop()

    # -- node creation --------------------------------------------------------
    def add_leaf(self, node) -> None:
        node.id = len(self.nodes)
        self.nodes.append(node)

    def lookup(self, key: tuple):
        return self._table.get(key)

    @contextlib.contextmanager
    def control_dependencies(self, control_inputs) -> Iterator[None]:
        """Nodes created inside are computed after ``control_inputs``; inside, a node
        reading a variable that one of them updates reads the updated value."""
        from .tensor import Tensor

        assigned_variable = services.provided("assigned_variable")

        controls = list(self._controls[-1][0]) if self._controls else []
        reads = dict(self._controls[-1][1]) if self._controls else {}
        for c in control_inputs if control_inputs is not None else []:
            if not isinstance(c, Tensor) or c.graph is not self:
                raise GraphError(f"control_dependencies takes tensors of this graph, got {c!r}")
            controls.append(c)
            var = assigned_variable(c)
            if var is not None:
                reads[var.id] = c
        self._controls.append((tuple(controls), reads))
        try:
            yield
        finally:
            self._controls.pop()

    def make(self, op, inputs: tuple, attrs: dict | None = None, name: str | None = None):
        """Return the node ``op(*inputs, **attrs)``, creating it only if it is new."""
        if not self._controls or op.name == "after":
            return self._make(op, inputs, attrs, name)
        controls, reads = self._controls[-1]
        inputs = tuple(reads.get(getattr(t, "id", None), t) for t in inputs)
        return services.provided("after")(self._make(op, inputs, attrs, name), controls)

    def _make(self, op, inputs: tuple, attrs: dict | None = None, name: str | None = None):
        # The hot path of graph building (every op call lands here): kept to plain
        # loops, C-level getters and one dict probe.
        tensor_cls = _Tensor or _tensor_class()
        for t in inputs:
            if not isinstance(t, tensor_cls) or t.graph is not self:
                self._reject_input(op, t, tensor_cls)
        if attrs:
            attrs_key = tuple(sorted(attrs.items()))
            if any(type(v) is float and v == 0.0 for _, v in attrs_key):
                attrs_key = _signed_zeros(attrs_key)
        else:
            attrs, attrs_key = {}, ()
        key = (op.name, tuple(map(_ids, inputs)), attrs_key, name)
        try:
            found = self._table.get(key)
        except TypeError as exc:  # an unhashable attribute is a bug in a builder
            raise GraphError(f"{op.name}: attributes must be hashable: {attrs!r}") from exc
        if found is not None and not hasattr(found, "_keras_history"):
            return found
        # A node Keras 2 has tagged as a layer's output (``_keras_history``) is not handed
        # out again: a second layer computing the same thing (two ``Activation('relu')``
        # on one tensor) needs its own tensor to tag, or the first layer drops out of the
        # model, as each op call makes a new tensor in TF and Theano.
        location = user_frame()
        if op in _PURE_INFER_OPS:
            memo_key = (op, tuple(map(_shapes, inputs)), tuple(map(_dtypes, inputs)),
                        attrs_key, config.floatx())
            inferred = _INFER_MEMO.get(memo_key)
            if inferred is None:
                inferred = self._infer(op, inputs, attrs, location)
                if len(_INFER_MEMO) >= _INFER_MEMO_MAX:  # many distinct static shapes
                    _INFER_MEMO.clear()
                _INFER_MEMO[memo_key] = inferred
            shape, dtype = inferred
        else:
            shape, dtype = self._infer(op, inputs, attrs, location)
        node = tensor_cls(self, op, tuple(inputs), attrs, attrs_key, shape, dtype,
                          self.unique_name(name or op.name), location)
        nodes = self.nodes
        node.id = len(nodes)
        nodes.append(node)
        self._table[key] = node
        return node

    @staticmethod
    def _infer(op, inputs, attrs: dict, location) -> tuple:
        """``(shape, dtype)`` from the op's rule; its TypeError / ValueError become
        DTypeError / ShapeError naming the op, the inputs and the user's line."""
        try:
            shape, dtype = op.infer(list(map(_shapes, inputs)), list(map(_dtypes, inputs)),
                                    attrs)
        except SymgraphError:
            raise
        except TypeError as exc:
            raise op_error(DTypeError, op.name, inputs, str(exc), location) from None
        except ValueError as exc:
            raise op_error(ShapeError, op.name, inputs, str(exc), location) from None
        return shape, dtype

    def _reject_input(self, op, t, tensor_cls) -> None:
        if not isinstance(t, tensor_cls):
            raise GraphError(f"{op.name}: expected tensors as inputs, got {type(t).__name__}")
        raise GraphError(
            f"{op.name}: input {t.name!r} belongs to another graph "
            "(created before K.clear_session()?)"
        )

    # -- inspection -----------------------------------------------------------
    def ancestors(self, outputs: Iterable) -> list:
        """Every node the outputs depend on (data or shape), in creation order."""
        return ancestors(outputs)

    def to_networkx(self, outputs: Iterable | None = None):
        """A networkx DiGraph of the graph (or of what ``outputs`` depend on).

        Nodes are node ids with attributes ``name, op, shape, dtype``; edges carry
        ``data=True`` when the consumer reads the input's values, ``False`` when it
        reads only its shape.
        """
        import networkx as nx

        nodes = self.nodes if outputs is None else self.ancestors(outputs)
        g = nx.DiGraph()
        for t in nodes:
            g.add_node(t.id, name=t.name, op=t.op.name, shape=t.shape, dtype=t.dtype)
        for t in nodes:
            for i, src in enumerate(t.inputs):
                g.add_edge(src.id, t.id, data=t.op.reads_data(i), index=i)
        return g

    def structural_hash(self, outputs: Iterable) -> str:
        """A hash of the structure computing ``outputs`` (ops, attrs, shapes, dtypes),
        independent of names and creation order of unrelated nodes."""
        memo: dict[int, str] = {}
        for t in self.ancestors(outputs):
            h = hashlib.sha256()
            h.update(repr((t.op.name, t.attrs_key, t.shape, t.dtype)).encode())
            if t.op.name in ("placeholder", "variable"):
                h.update(str(t.id).encode())  # distinct leaves stay distinct
            for src in t.inputs:
                h.update(memo[src.id].encode())
            memo[t.id] = h.hexdigest()
        return hashlib.sha256("".join(memo[t.id] for t in outputs).encode()).hexdigest()

    def __len__(self) -> int:
        return len(self.nodes)

    def __repr__(self) -> str:
        return f"<symgraph.Graph with {len(self.nodes)} nodes>"


_default_graph = Graph()


def get_default_graph() -> Graph:
    """The graph new nodes are added to (``K.get_graph()`` returns it too).

    Example:
        >>> import symgraph, symgraph.backend as K
        >>> x = K.placeholder((None, 2))
        >>> x.graph is symgraph.get_default_graph() is K.get_graph()
        True
    """
    return _default_graph


def reset_default_graph() -> Graph:
    """Start a new, empty default graph (what ``K.clear_session()`` does)."""
    global _default_graph
    _default_graph = Graph()
    return _default_graph



def make_leaf(graph: Graph, op, cls, shape, dtype: str, name: str, attrs: dict | None = None,
              key: tuple | None = None, **extra):
    """Create a leaf node (placeholder, variable, constant). With ``key``, an identical
    leaf created earlier is returned instead (constants are stored once)."""
    if key is not None:
        found = graph.lookup(key)
        if found is not None:
            return found
    attrs = attrs or {}
    node = cls(graph, op, (), attrs, tuple(sorted(attrs.items())), shape, dtype,
               graph.unique_name(name), user_frame(), **extra)
    graph.add_leaf(node)
    if key is not None:
        graph._table[key] = node
    return node


def ancestors(outputs: Iterable, data_only: bool = False, also=None) -> list:
    """The nodes ``outputs`` depend on (``data_only``: through inputs read for their
    values, not their shapes), themselves included, in creation order, which is a
    topological order: a node's inputs exist before it. ``also(node)``, when given,
    returns further nodes to follow from ``node`` (a loop's inner graph)."""
    seen: dict[int, object] = {}
    stack = list(outputs)
    while stack:
        t = stack.pop()
        if t.id in seen:
            continue
        seen[t.id] = t
        if data_only:
            stack.extend(src for i, src in enumerate(t.inputs) if t.op.reads_data(i))
        else:
            stack.extend(t.inputs)
        if also is not None:
            stack.extend(also(t))
    return [seen[i] for i in sorted(seen)]


def _signed_zeros(attrs_key: tuple) -> tuple:
    """-0.0 == 0.0, but a fill of -0.0 is another node than a fill of 0.0."""
    return tuple((k, ("-0.0",) if type(v) is float and v == 0.0 and math.copysign(1.0, v) < 0
                  else v) for k, v in attrs_key)
