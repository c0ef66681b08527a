"""Read a graph document: validate all of it, then build a private graph and compile it.

Two phases, so that a hostile file never leaves a partial object behind:

1. :func:`validate` checks the parsed JSON as plain data: the format and version, every
   node's fields (op from the registry only, arity, attributes against
   :data:`~symgraph.io.attrs.OP_ATTRS`, dtype, shape and its size, references to
   earlier nodes only, which also rules out cycles), the loops, the inputs, outputs
   and updates, and every array against the node that uses it (from the ``.npy``
   headers; no data has been read yet).
2. :func:`build` reads the arrays and creates the nodes in a new :class:`Graph`
   through the ops' own shape rules; a node whose rule disagrees with the shape or
   dtype the file states is refused. Then the function is compiled.

Every refusal is a :class:`~symgraph.errors.GraphFileError` naming the file and the
node (index, name and op).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from .. import config
from ..core import dtypes
from ..core.graph import Graph, make_leaf
from ..core.shapes import MAX_ELEMENTS, dims_compatible, is_fully_known, shape_str
from ..core.tensor import Constant, ConstValue, Placeholder, Variable
from ..errors import GraphFileError, SymgraphError
from ..ops.registry import ELEMENTWISE, REGISTRY
from . import attrs as attr_codec
from .archive import ArraySpec
from .schema import FORMAT, MAX_NAME, MAX_NODES, MAX_RANK, VERSION

_TOP_REQUIRED = {"format", "version", "nodes", "inputs", "outputs"}
_TOP_OPTIONAL = {"symgraph_version", "floatx", "loops", "updates", "update_ops", "function"}
_NODE_REQUIRED = {"id", "op", "name", "inputs", "shape", "dtype", "attrs"}
_NODE_OPTIONAL = {"scope", "value", "default", "location"}
_LOOP_FIELDS = {"kind", "seq_placeholders", "state_placeholders", "capture_placeholders",
                "captures", "step_outputs", "state_outputs", "sum_outputs", "min_steps",
                "reverse"}
_LOOP_PLACEHOLDERS = ("seq_placeholders", "state_placeholders", "capture_placeholders")
_LEAVES = ("placeholder", "variable", "constant")
_PASSES = ("simplify", "fold_constants", "cse")


@dataclass
class Checked:
    """A document that passed :func:`validate`: what :func:`build` needs."""

    floatx: str
    nodes: list  # (record, decoded attrs with array keys / loop indices pending)
    loops: list
    inputs: list
    outputs: list
    updates: list
    update_ops: list
    function: dict
    arrays: dict  # key -> ArraySpec, each used by exactly one node


def parse_json(raw: bytes, label: str):
    """``graph.json``'s bytes as JSON data (no NaN/Infinity literals, bounded nesting)."""
    def no_constants(name):
        raise ValueError(f"the literal {name} is not valid JSON")

    try:
        return json.loads(raw.decode("utf-8"), parse_constant=no_constants)
    except UnicodeDecodeError:
        raise GraphFileError(f"{label}: graph.json is not UTF-8 text") from None
    except RecursionError:
        raise GraphFileError(f"{label}: graph.json is nested too deeply") from None
    except ValueError as exc:
        raise GraphFileError(f"{label}: graph.json is not valid JSON ({exc})") from None


def _int(v) -> bool:
    return type(v) is int


def _index_list(value, what: str, limit: int, err) -> list:
    if type(value) is not list or not all(_int(i) for i in value):
        raise err(f"{what} must be a list of node indices")
    for i in value:
        if not 0 <= i < limit:
            raise err(f"{what} refers to node {i}, which does not exist"
                      f"{' before it (a cycle or a forward reference)' if i >= 0 else ''}")
    return value


def validate(doc, specs: dict[str, ArraySpec], label: str, max_bytes: int) -> Checked:
    """Check the parsed ``graph.json`` (see the module docstring)."""
    def err(detail):
        return GraphFileError(f"{label}: {detail}")

    if type(doc) is not dict:
        raise err("graph.json must hold a JSON object")
    if doc.get("format") != FORMAT:
        raise err(f"not a symgraph graph file (graph.json's format is "
                  f"{attr_codec._short(doc.get('format'))}, expected {FORMAT!r})")
    version = doc.get("version")
    if not _int(version) or version < 1:
        raise err(f"bad format version {attr_codec._short(version)}")
    if version > VERSION:
        raise err(f"written in graph format version {version} by a newer symgraph; this "
                  f"one reads versions up to {VERSION}")
    missing = _TOP_REQUIRED - doc.keys()
    if missing:
        raise err(f"graph.json lacks {sorted(missing)}")
    unknown = doc.keys() - _TOP_REQUIRED - _TOP_OPTIONAL
    if unknown:
        raise err(f"graph.json has unknown fields {sorted(unknown)}")
    floatx = doc.get("floatx", "float32")
    if floatx not in ("float16", "float32", "float64"):
        raise err(f"bad floatx {attr_codec._short(floatx)}")
    records = doc["nodes"]
    if type(records) is not list or not records:
        raise err("'nodes' must be a non-empty list")
    if len(records) > MAX_NODES:
        raise err(f"{len(records)} nodes, more than the limit of {MAX_NODES}")
    loops = doc.get("loops", [])
    if type(loops) is not list:
        raise err("'loops' must be a list")
    used_arrays: set[str] = set()
    loop_users: dict[int, int] = {}  # loop index -> first node using it
    names: set[str] = set()
    nodes = []
    for k, rec in enumerate(records):
        nodes.append(_check_node(k, rec, records, specs, used_arrays, loops, loop_users,
                                 names, max_bytes, label))
    for k, first in loop_users.items():
        _check_loop(k, loops[k], records, first, label)
    unused = specs.keys() - used_arrays
    if unused:
        raise err(f"arrays.npz holds arrays no node uses: {sorted(unused)[:5]}")
    n = len(records)
    inputs = _index_list(doc["inputs"], "'inputs'", n, err)
    if len(set(inputs)) != len(inputs):
        raise err("'inputs' lists the same placeholder twice")
    for i in inputs:
        if records[i]["op"] != "placeholder":
            raise err(f"input {i} ('{records[i]['name']}') is a {records[i]['op']}, "
                      "not a placeholder")
    outputs = _index_list(doc["outputs"], "'outputs'", n, err)
    if not outputs:
        raise err("'outputs' is empty")
    updates = doc.get("updates", [])
    if type(updates) is not list:
        raise err("'updates' must be a list of [variable, value] pairs")
    for pair in updates:
        _index_list(pair, "an update", n, err)
        if len(pair) != 2 or records[pair[0]]["op"] != "variable":
            raise err(f"update {pair} must be [variable index, value index]")
    update_ops = _index_list(doc.get("update_ops", []), "'update_ops'", n, err)
    function = doc.get("function", {})
    _check_function(function, err)
    return Checked(floatx, nodes, loops, inputs, outputs, updates, update_ops, function,
                   specs)


def _check_function(function, err) -> None:
    if type(function) is not dict or not function.keys() <= {
            "name", "fuse", "passes", "single_output"}:
        raise err("'function' must be an object with name, fuse, passes, single_output")
    name = function.get("name")
    if name is not None and (type(name) is not str or len(name) > MAX_NAME):
        raise err("the function's name must be a string")
    for key in ("fuse", "single_output"):
        if type(function.get(key, False)) is not bool:
            raise err(f"the function's {key!r} must be true or false")
    passes = function.get("passes")
    if passes is not None and (type(passes) is not list or
                               not all(p in _PASSES for p in passes)):
        raise err(f"the function's passes must be a list of {', '.join(_PASSES)}")


def _check_node(k, rec, records, specs, used_arrays, loops, loop_users, names, max_bytes,
                label):
    def err(detail):
        where = f"node {k}"
        if type(rec) is dict and type(rec.get("name")) is str:
            where += f" '{rec['name'][:80]}'"
        if type(rec) is dict and type(rec.get("op")) is str:
            where += f" ({rec['op'][:40]})"
        return GraphFileError(f"{label}: {where}: {detail}")

    if type(rec) is not dict:
        raise err("must be a JSON object")
    missing = _NODE_REQUIRED - rec.keys()
    if missing:
        raise err(f"lacks {sorted(missing)}")
    unknown = rec.keys() - _NODE_REQUIRED - _NODE_OPTIONAL
    if unknown:
        raise err(f"has unknown fields {sorted(unknown)}")
    if rec["id"] != k or not _int(rec["id"]):
        raise err(f"has id {attr_codec._short(rec['id'])}; nodes must be listed in order")
    op_name = rec["op"]
    if type(op_name) is not str or op_name not in REGISTRY:
        raise err(f"unknown op {attr_codec._short(op_name)} (ops are looked up in "
                  "symgraph's registry only)")
    schema = attr_codec.OP_ATTRS.get(op_name)
    if schema is None:
        raise err(f"op {op_name!r} cannot be loaded from a file")
    name = rec["name"]
    if type(name) is not str or not name or len(name) > MAX_NAME:
        raise err(f"bad name {attr_codec._short(name)}")
    if name in names:
        raise err(f"the name '{name}' is used by an earlier node too")
    names.add(name)
    if "scope" in rec and rec["scope"] != name.rpartition("/")[0]:
        raise err(f"scope {attr_codec._short(rec['scope'])} does not match its name")
    inputs = _index_list(rec["inputs"], "its inputs", k, err)
    _check_arity(REGISTRY[op_name], len(inputs), err)
    dtype = rec["dtype"]
    if type(dtype) is not str or dtype not in dtypes.SUPPORTED:
        raise err(f"bad dtype {attr_codec._short(dtype)}; symgraph supports "
                  f"{', '.join(dtypes.SUPPORTED)}")
    shape = _check_shape(rec["shape"], dtype, max_bytes, err)
    attrs = rec["attrs"]
    if type(attrs) is not dict:
        raise err("'attrs' must be an object")
    extra = attrs.keys() - schema.keys()
    if extra:
        raise err(f"op {op_name!r} has no attribute(s) {sorted(extra)} (it takes "
                  f"{sorted(schema) or 'none'})")

    def array(key):
        return _use_array(key, specs, used_arrays, dtype, shape, exact=True, err=err)

    def loop(i):
        if not 0 <= i < len(loops):
            raise attr_codec.AttrError(f"refers to loop {i}, which does not exist")
        loop_users.setdefault(i, k)
        return i

    decoded = {}
    for key, data in attrs.items():
        try:
            decoded[key] = attr_codec.decode(schema[key], data, array, loop)
        except attr_codec.AttrError as exc:
            raise err(f"attribute {key!r}: {exc}") from None
    array_key = None
    if op_name == "variable":
        if "value" not in rec:
            raise err("a variable needs its 'value' (a key of arrays.npz)")
        array_key = _use_array(rec["value"], specs, used_arrays, dtype, shape, True, err)
    elif "value" in rec:
        raise err("only variables have a 'value'")
    default_key = None
    if "default" in rec:
        if op_name != "placeholder":
            raise err("only placeholders have a 'default'")
        default_key = _use_array(rec["default"], specs, used_arrays, dtype, shape, False, err)
    if op_name in _LEAVES and inputs:
        raise err("a leaf has no inputs")
    if op_name == "constant" and "value" not in decoded:
        raise err("a constant needs its 'value' attribute")
    location = rec.get("location")
    if location is not None and (type(location) is not list or len(location) != 2 or
                                 type(location[0]) is not str or not _int(location[1])):
        raise err("'location' must be [file, line]")
    return rec, decoded, array_key, default_key


def _check_arity(op, n: int, err) -> None:
    bounds = attr_codec.OP_INPUTS.get(op.name)
    if bounds is None and op.kind == ELEMENTWISE:
        expected = op.extra.get("nin")
        if expected is not None and n != expected:
            raise err(f"takes {expected} input(s), the file gives {n}")
        return
    if bounds is not None:
        low, high = bounds
        if n < low or (high is not None and n > high):
            want = str(low) if low == high else (f"at least {low}" if high is None
                                                 else f"{low} to {high}")
            raise err(f"takes {want} input(s), the file gives {n}")


def _check_shape(shape, dtype, max_bytes, err):
    if shape is None:
        return None
    if type(shape) is not list or len(shape) > MAX_RANK or any(
            d is not None and (not _int(d) or d < 0) for d in shape):
        raise err(f"bad shape {attr_codec._short(shape)} (a list of up to {MAX_RANK} "
                  "non-negative integers or nulls, or null)")
    known = [d for d in shape if d is not None]
    n = 1
    for d in known:
        n *= d
    nbytes = n * np.dtype(dtype).itemsize
    if n > MAX_ELEMENTS or nbytes > max_bytes:
        raise err(f"shape {shape_str(tuple(shape))} {dtype} needs {nbytes} bytes, more than "
                  f"max_bytes={max_bytes}")
    return tuple(shape)


def _use_array(key, specs, used, dtype, shape, exact, err) -> str:
    if type(key) is not str or key not in specs:
        raise err(f"refers to array {attr_codec._short(key)}, which arrays.npz does not hold")
    if key in used:
        raise err(f"array {key!r} is used by an earlier node too")
    used.add(key)
    spec = specs[key]
    if spec.dtype.name != dtype:
        raise err(f"array {key!r} is {spec.dtype.name}, the node is {dtype}")
    if exact:
        if shape is None or tuple(shape) != spec.shape:
            raise err(f"array {key!r} has shape {spec.shape}, the node has "
                      f"{shape_str(shape)}")
    elif shape is not None and not dims_compatible(shape, spec.shape):
        raise err(f"default array {key!r} has shape {spec.shape}, the placeholder takes "
                  f"{shape_str(shape)}")
    return key


def _check_loop(k, loop, records, first_user, label) -> None:
    def err(detail):
        return GraphFileError(f"{label}: loop {k} (used by node {first_user}): {detail}")

    if type(loop) is not dict or loop.keys() != _LOOP_FIELDS:
        raise err(f"must be an object with exactly {sorted(_LOOP_FIELDS)}")
    if type(loop["kind"]) is not str or len(loop["kind"]) > 100:
        raise err("'kind' must be a short string")
    if not _int(loop["min_steps"]) or loop["min_steps"] < 0:
        raise err("'min_steps' must be a non-negative integer")
    if type(loop["reverse"]) is not bool:
        raise err("'reverse' must be true or false")
    leaves = []
    for field in _LOOP_FIELDS - {"kind", "min_steps", "reverse"}:
        ids = _index_list(loop[field], repr(field), first_user, err)
        if field in _LOOP_PLACEHOLDERS:
            for i in ids:
                if records[i]["op"] != "placeholder":
                    raise err(f"{field} lists node {i}, which is not a placeholder")
            leaves += ids
    if len(set(leaves)) != len(leaves):
        raise err("a placeholder is listed twice among the loop's placeholders")
    if len(loop["captures"]) != len(loop["capture_placeholders"]):
        raise err("'captures' and 'capture_placeholders' differ in length")
    if not (loop["step_outputs"] or loop["state_outputs"] or loop["sum_outputs"]):
        raise err("a loop needs at least one output")


# -- building -------------------------------------------------------------------------------
def build(checked: Checked, archive, label: str):
    """The :class:`~symgraph.runtime.function.Function` a validated document describes."""
    from ..ops.control import LoopBody
    from ..runtime.function import Function, _Single

    graph = Graph()
    nodes: list = []
    loops: dict[int, object] = {}

    def loop_body(i):
        body = loops.get(i)
        if body is None:
            spec = checked.loops[i]
            pick = lambda field: [nodes[j] for j in spec[field]]  # noqa: E731
            body = LoopBody(spec["kind"], pick("seq_placeholders"),
                            pick("state_placeholders"), pick("capture_placeholders"),
                            pick("captures"), pick("step_outputs"), pick("state_outputs"),
                            spec["min_steps"], sum_outputs=pick("sum_outputs"),
                            reverse=spec["reverse"])
            allowed = {t.id for t in body.leaves}
            for t in body.nodes:
                if isinstance(t, (Placeholder, Variable)) and t.id not in allowed:
                    raise GraphFileError(f"{label}: loop {i}: its inner graph reads "
                                         f"'{t.name}', which is not one of its placeholders")
            loops[i] = body
        return body

    saved_floatx = config.floatx()
    config.set_floatx(checked.floatx)  # shape rules of weak scalars follow floatx
    try:
        for rec, attrs, array_key, default_key in checked.nodes:
            nodes.append(_build_node(graph, rec, attrs, array_key, default_key, archive,
                                     checked.arrays, loop_body, nodes, label))
        fn_spec = checked.function
        try:
            fn = Function([nodes[i] for i in checked.inputs],
                          [nodes[i] for i in checked.outputs],
                          [(nodes[v], nodes[x]) for v, x in checked.updates] +
                          [nodes[i] for i in checked.update_ops],
                          name=fn_spec.get("name"), fuse=fn_spec.get("fuse", True),
                          passes=fn_spec.get("passes"))
        except SymgraphError as exc:
            raise GraphFileError(f"{label}: the graph does not compile: {exc}") from None
    finally:
        config.set_floatx(saved_floatx)
    return _Single(fn) if fn_spec.get("single_output") and len(fn.outputs) == 1 else fn


def _build_node(graph, rec, attrs, array_key, default_key, archive, specs, loop_body, nodes,
                label):
    from ..ops import leaves

    op = REGISTRY[rec["op"]]
    shape = None if rec["shape"] is None else tuple(rec["shape"])
    dtype, name = rec["dtype"], rec["name"]
    where = f"{label}: node {rec['id']} '{name}' ({op.name})"
    try:
        attrs = {key: (ConstValue(archive.read_array(specs[value])) if key == "value" and
                       op.name == "constant" else
                       loop_body(value) if op.name in ("scan", "scan_output") and key == "body"
                       else value)
                 for key, value in attrs.items()}
        if op.name == "placeholder":
            node = make_leaf(graph, op, Placeholder, shape, dtype, name)
            if default_key is not None:
                node.default = archive.read_array(specs[default_key])
        elif op.name == "variable":
            node = make_leaf(graph, op, Variable, shape, dtype, name,
                             value=archive.read_array(specs[array_key]))
        elif op.name == "constant":
            cval = attrs["value"]
            node = make_leaf(graph, leaves.CONSTANT, Constant, shape, dtype, name,
                             attrs={"value": cval},
                             key=("constant", (), (("value", cval),), name))
        else:
            node = graph._make(op, tuple(nodes[i] for i in rec["inputs"]), attrs, name)
    except GraphFileError:
        raise
    except Exception as exc:  # a hostile file must give an error, never a crash
        raise GraphFileError(f"{where}: {type(exc).__name__}: {exc}") from None
    if node.name != name:
        raise GraphFileError(f"{where}: duplicates an earlier node")
    if node.shape != shape or node.dtype != dtype:
        raise GraphFileError(
            f"{where}: the file says {shape_str(shape)} {dtype}, but the op's rule gives "
            f"{shape_str(node.shape)} {node.dtype} for its inputs and attributes")
    if not is_fully_known(shape) and op.name in ("variable", "constant"):
        raise GraphFileError(f"{where}: a stored array needs a fully known shape")
    location = rec.get("location")
    node.location = (location[0], location[1]) if location else None
    return node
