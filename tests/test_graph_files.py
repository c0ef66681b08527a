"""Graph files (symgraph.save / symgraph.load): round trips give bit-identical results,
and hostile files are refused with a clear error before anything is built."""

from __future__ import annotations

import io
import json
import struct
import warnings
import zipfile

import numpy as np
import pytest

import symgraph
import symgraph.backend as K
from symgraph.core.graph import get_default_graph
from symgraph.errors import GraphFileError
from symgraph.io import archive
from symgraph.io.attrs import OP_ATTRS, OP_INPUTS
from symgraph.ops.registry import ELEMENTWISE, REGISTRY

RNG = np.random.default_rng(0)


def _mlp():
    x = K.placeholder(shape=(None, 4), name="x")
    w1 = K.variable(RNG.standard_normal((4, 8)).astype("float32"), name="w1")
    b1 = K.variable(np.zeros(8, "float32"), name="b1")
    w2 = K.variable(RNG.standard_normal((8, 3)).astype("float32"), name="w2")
    with K.name_scope("dense_1"):
        h = K.relu(K.dot(x, w1) + b1)
    with K.name_scope("dense_2"):
        p = K.softmax(K.dot(h, w2))
    return x, [w1, b1, w2], p


def _same(a, b) -> None:
    assert len(a) == len(b)
    for p, q in zip(a, b):
        assert p.dtype == q.dtype and p.shape == q.shape
        assert p.tobytes() == q.tobytes()  # bit-identical, NaN payloads included


# -- round trips ---------------------------------------------------------------------------
def test_mlp_round_trip_is_bit_identical_and_keeps_names_and_scopes(tmp_path):
    x, _, p = _mlp()
    f = K.function([x], [p, K.argmax(p, axis=-1), K.sum(p, axis=1)])
    path = tmp_path / "mlp.sg"
    symgraph.save(f, path)
    g = symgraph.load(path)
    assert [t.name for t in g.inputs] == ["x"]
    assert [t.name for t in g.outputs] == [t.name for t in f.outputs]
    assert [t.shape for t in g.outputs] == [t.shape for t in f.outputs]
    for rows in (1, 7, 0, 33):
        batch = RNG.standard_normal((rows, 4)).astype("float32")
        _same(f([batch]), g([batch]))
    assert g.outputs[0].graph is not get_default_graph()  # a private graph
    doc = json.loads(zipfile.ZipFile(path).read("graph.json"))
    scopes = {n["scope"] for n in doc["nodes"]}
    assert {"dense_1", "dense_2"} <= scopes
    assert doc["format"] == "symgraph.graph" and doc["version"] == 1


def test_outputs_with_inputs_and_one_output_wrapper():
    x, _, p = _mlp()
    g = symgraph.io.loads(symgraph.io.dumps([p], inputs=[x]))
    batch = RNG.standard_normal((5, 4)).astype("float32")
    _same(K.function([x], [p])([batch]), g([batch]))
    single = K.function([x], p)  # one tensor: calls return one array
    h = symgraph.io.loads(symgraph.io.dumps(single))
    assert isinstance(h(batch), np.ndarray)
    _same([single(batch)], [h(batch)])
    h2 = symgraph.io.loads(symgraph.io.dumps(p, inputs=[x]))
    assert isinstance(h2(batch), np.ndarray)


def test_save_refuses_what_it_cannot_write():
    x, _, p = _mlp()
    with pytest.raises(GraphFileError, match="inputs="):
        symgraph.io.dumps([p])
    with pytest.raises(GraphFileError, match="Function, a tensor or a list"):
        symgraph.io.dumps(42, inputs=[x])
    with pytest.raises(GraphFileError, match="only for saving output tensors"):
        symgraph.io.dumps(K.function([x], [p]), inputs=[x])


def test_training_step_with_updates_round_trips():
    x, weights, p = _mlp()
    y = K.placeholder(shape=(None, 3), name="y")
    loss = K.mean(K.categorical_crossentropy(y, p))
    grads = K.gradients(loss, weights)
    step = K.function([x, y], [loss], updates=[K.update_sub(w, 0.1 * g)
                                               for w, g in zip(weights, grads)])
    loaded = symgraph.io.loads(symgraph.io.dumps(step))
    xb = RNG.standard_normal((16, 4)).astype("float32")
    yb = np.eye(3, dtype="float32")[RNG.integers(0, 3, 16)]
    for _ in range(3):
        _same(step([xb, yb]), loaded([xb, yb]))
    loaded_vars = [n for n in loaded.outputs[0].graph.nodes if n.op.name == "variable"]
    by_name = {v.name: v.value for v in loaded_vars}
    for w in weights:
        assert by_name[w.name].tobytes() == K.get_value(w).tobytes()


def test_pair_updates_and_defaults_round_trip():
    v = K.variable(np.arange(3, dtype="float64"), name="counter")
    x = K.placeholder(shape=(3,), dtype="float64", name="x")
    phase = K.learning_phase()  # a placeholder with a default
    out = K.in_train_phase(x * 2.0, x - 1.0) + v
    f = K.function([x], [out], updates=[(v, v + x)])
    g = symgraph.io.loads(symgraph.io.dumps(f))
    assert phase.default is not None
    feed = np.array([1.0, -2.0, 0.5])
    for _ in range(2):
        _same(f([feed]), g([feed]))


def test_rnn_loop_round_trips():
    x = K.placeholder(shape=(None, 5, 3), name="seq")
    w = K.variable(RNG.standard_normal((3, 4)).astype("float32"), name="kernel")
    u = K.variable(RNG.standard_normal((4, 4)).astype("float32"), name="recurrent")

    def step(inp, states):
        h = K.tanh(K.dot(inp, w) + K.dot(states[0], u))
        return h, [h]

    h0 = K.zeros_like(K.sum(x, axis=1)[:, :1]) * K.zeros((1, 4))
    last, outputs, _ = K.rnn(step, x, [h0])
    f = K.function([x], [last, outputs])
    g = symgraph.io.loads(symgraph.io.dumps(f))
    batch = RNG.standard_normal((6, 5, 3)).astype("float32")
    _same(f([batch]), g([batch]))
    doc = json.loads(zipfile.ZipFile(io.BytesIO(symgraph.io.dumps(f))).read("graph.json"))
    assert len(doc["loops"]) == 1


def test_conv_and_pooling_round_trip():
    x = K.placeholder(shape=(None, 8, 8, 2), name="image")
    k = K.variable(RNG.standard_normal((3, 3, 2, 4)).astype("float32"))
    y = K.pool2d(K.relu(K.conv2d(x, k, padding="same")), (2, 2))
    f = K.function([x], [K.batch_flatten(y)])
    g = symgraph.io.loads(symgraph.io.dumps(f))
    batch = RNG.standard_normal((3, 8, 8, 2)).astype("float32")
    _same(f([batch]), g([batch]))


def test_special_values_dtypes_and_random_round_trip():
    x = K.placeholder(shape=(None, 2), dtype="float64", name="x")
    i = K.placeholder(shape=(None,), dtype="int32", name="i")
    nan = K.fill_like(x, np.nan) if hasattr(K, "fill_like") else x * np.nan
    outs = [K.maximum(x, -np.inf), x * -0.0, nan, K.cast(i, "int64") * 3, i > 1,
            K.random_uniform((3,), seed=7)]
    f = K.function([x, i], outs)
    g = symgraph.io.loads(symgraph.io.dumps(f))
    feeds = [np.array([[1.0, -2.0]]), np.array([0, 5], "int32")]
    _same(f(feeds), g(feeds))  # the first draw of a fresh counter matches


def test_every_registered_op_has_a_schema():
    # a new op must say which attributes a file may give it, and how many inputs
    for name, op in REGISTRY.items():
        assert name in OP_ATTRS, f"op {name} has no entry in symgraph.io.attrs.OP_ATTRS"
        if op.kind != ELEMENTWISE or op.extra.get("nin") is None:
            assert name in OP_INPUTS, f"op {name} has no entry in OP_INPUTS"


# -- hostile files -------------------------------------------------------------------------
def _base():
    """A valid file's parts: (doc, arrays)."""
    x = K.placeholder(shape=(None, 3), name="x")
    w = K.variable(np.ones((3, 2), "float32"), name="w")
    y = K.sum(K.relu(K.dot(x, w) + 1.0), axis=1)
    data = symgraph.io.dumps(K.function([x], [y]))
    zf = zipfile.ZipFile(io.BytesIO(data))
    doc = json.loads(zf.read("graph.json"))
    npz = zipfile.ZipFile(io.BytesIO(zf.read("arrays.npz")))
    arrays = {n[:-4]: np.load(io.BytesIO(npz.read(n)), allow_pickle=False)
              for n in npz.namelist()}
    return doc, arrays


def _file(doc, arrays) -> bytes:
    buffer = io.BytesIO()
    archive.write(buffer, json.dumps(doc).encode(), arrays)
    return buffer.getvalue()


def _node(doc, op):
    return next(n for n in doc["nodes"] if n["op"] == op)


def _zip(members, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # duplicate names are what some cases are about
        warnings.simplefilter("ignore", UserWarning)
        with zipfile.ZipFile(buffer, "w", compression) as zf:
            for name, data in members:
                zf.writestr(name, data)
    return buffer.getvalue()


def _valid_members():
    doc, arrays = _base()
    zf = zipfile.ZipFile(io.BytesIO(_file(doc, arrays)))
    return zf.read("graph.json"), zf.read("arrays.npz")


def _npz(members) -> bytes:
    return _zip(members, zipfile.ZIP_STORED)


def _npy_header(dtype: str, shape: tuple) -> bytes:
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def _with_npz(npz_bytes, doc_edit=None) -> bytes:
    doc, _ = _base()
    if doc_edit:
        doc_edit(doc)
    return _zip([("graph.json", json.dumps(doc)), ("arrays.npz", npz_bytes)])


def _doc_case(edit):
    def make():
        doc, arrays = _base()
        result = edit(doc, arrays)
        return _file(doc, arrays if result is None else result)
    return make


def _set(path_fn, value):
    def edit(doc, arrays):
        target, key = path_fn(doc)
        target[key] = value
    return edit


def _zip_bomb_json():
    json_bytes, npz = _valid_members()
    return _zip([("graph.json", json_bytes + b" " * (50 << 20)), ("arrays.npz", npz)])


def _zip_bomb_npz():
    json_bytes, _ = _valid_members()
    return _zip([("graph.json", json_bytes),
                 ("arrays.npz", _zip([("v0.npy", _npy_header("<f4", (3, 2)) +
                                       bytes(24) + bytes(40 << 20))]))])


def _encrypted_flag():
    # zipfile cannot write encrypted members: set the flag bit in both headers
    data = bytearray(_zip(list(zip(("graph.json", "arrays.npz"), _valid_members()))))
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    data[local + 6] |= 0x1
    data[central + 8] |= 0x1
    return bytes(data)


def _truncated():
    data = _file(*_base())
    return data[: len(data) // 2]


def _wrong_method():
    json_bytes, npz = _valid_members()
    return _zip([("graph.json", json_bytes), ("arrays.npz", npz)], zipfile.ZIP_BZIP2)


def _pickled_npy():
    import pickle

    payload = pickle.dumps(["os.system('echo pwned')"])
    return _with_npz(_npz([("v0.npy", _npy_header("|O", (1,)) + payload)]))


def _add_input(doc, arrays):
    _node(doc, "add")["inputs"].append(0)


def _absurd_variable(doc, arrays):
    v = _node(doc, "variable")
    v["shape"] = [1000000, 1000000]


def _forward_ref(doc, arrays):
    _node(doc, "matmul")["inputs"] = [0, len(doc["nodes"]) - 1]


def _self_ref(doc, arrays):
    m = _node(doc, "matmul")
    m["inputs"] = [0, m["id"]]


def _loop_ref(doc, arrays):
    _node(doc, "sum")["attrs"]["axes"] = {"$loop": 0}


def _dup_name(doc, arrays):
    doc["nodes"][1]["name"] = doc["nodes"][0]["name"]


def _unused_array(doc, arrays):
    return {**arrays, "v99": np.zeros(2, "float32")}


def _array_dtype(doc, arrays):
    return {k: v.astype("float64") for k, v in arrays.items()}


def _array_shape(doc, arrays):
    return {k: (v.reshape(-1) if v.ndim == 2 else v) for k, v in arrays.items()}


def _array_twice(doc, arrays):
    const = _node(doc, "constant")
    const["attrs"]["value"] = {"$array": _node(doc, "variable")["value"]}


def _bad_loop_table(doc, arrays):
    doc["loops"] = [{"kind": "rnn"}]
    s = _node(doc, "sum")
    s["op"], s["inputs"] = "scan_output", [s["id"] - 1, 0]
    s["attrs"] = {"body": {"$loop": 0}, "index": 0}


def _update_not_variable(doc, arrays):
    doc["updates"] = [[0, 1]]


def _deep_attr(doc, arrays):
    value = 0
    for _ in range(20):
        value = [value]
    _node(doc, "sum")["attrs"]["axes"] = value


def _getitem_garbage(doc, arrays):
    s = _node(doc, "sum")
    s["op"], s["attrs"] = "getitem", {"index": [["evil", 1, 2, 3]]}


def _conv_bad_padding(doc, arrays):
    m = _node(doc, "matmul")
    m["op"] = "conv"
    m["attrs"] = {"data_format": "channels_last", "dilation": [1], "padding": "evil",
                  "rank": 1, "strides": [1]}


def _huge_fill(doc, arrays):
    m = _node(doc, "add")
    m["op"], m["inputs"], m["attrs"] = "fill", [], {"dtype": "float32", "value": 0.0}
    m["shape"] = [10**6, 10**6]


HOSTILE = {
    # the container
    "random bytes": (lambda: b"\x00\x01not a zip" * 100, "not a readable zip"),
    "empty file": (lambda: b"", "not a readable zip"),
    "truncated zip": (_truncated, "not a readable zip"),
    "extra member": (lambda: _zip([*zip(("graph.json", "arrays.npz"), _valid_members()),
                                   ("evil.py", "import os")]), "unexpected member"),
    "parent path member": (lambda: _zip([("../graph.json", _valid_members()[0]),
                                         ("arrays.npz", _valid_members()[1])]),
                           "unexpected member"),
    "absolute path member": (lambda: _zip([("/etc/graph.json", b"{}"),
                                           *zip(("graph.json", "arrays.npz"),
                                                _valid_members())]), "unexpected member"),
    "duplicate member": (lambda: _zip([("graph.json", b"{}"),
                                       *zip(("graph.json", "arrays.npz"), _valid_members())]),
                         "same member name twice"),
    "missing arrays": (lambda: _zip([("graph.json", _valid_members()[0])]), "missing"),
    "missing graph": (lambda: _zip([("arrays.npz", _valid_members()[1])]), "missing"),
    "directory member": (lambda: _zip([("graph.json/", b""), ("arrays.npz", b"")]),
                         "unexpected member"),
    "json zip bomb": (_zip_bomb_json, "zip bomb"),
    "npz zip bomb": (_zip_bomb_npz, "zip bomb"),
    "encrypted member": (_encrypted_flag, "encrypted"),
    "bzip2 member": (_wrong_method, "compression method"),
    # arrays.npz
    "npz not a zip": (lambda: _with_npz(b"garbage" * 10), "not a readable npz"),
    "pickled object array": (_pickled_npy, "object"),
    "npz path trick": (lambda: _with_npz(_npz([("../v0.npy", b"")])), "unexpected member"),
    "npz odd member": (lambda: _with_npz(_npz([("v0.pkl", b"")])), "unexpected member"),
    "npy bad magic": (lambda: _with_npz(_npz([("v0.npy", b"NOTNUMPY" * 8)])),
                      "bad .npy header"),
    "npy shape lies": (lambda: _with_npz(_npz([("v0.npy", _npy_header("<f4", (3, 2)) +
                                                bytes(8))])), "holds"),
    "npy absurd shape": (lambda: _with_npz(_npz([("v0.npy", _npy_header(
        "<f4", (10**6, 10**6)))])), "max_bytes"),
    "npy complex dtype": (lambda: _with_npz(_npz([("v0.npy", _npy_header("<c16", (1,)) +
                                                   bytes(16))])), "unsupported dtype"),
    "npy structured dtype": (lambda: _with_npz(_npz([("v0.npy", _npy_header(
        [("a", "<f4")], (1,)) + bytes(4))])), "structured"),
    "npy negative dim": (lambda: _with_npz(_npz([("v0.npy", _npy_header("<f4", (-1,)))])),
                         "bad"),
    # graph.json as JSON
    "json not utf8": (lambda: _zip([("graph.json", b"\xff\xfe{"),
                                    ("arrays.npz", _valid_members()[1])]), "UTF-8"),
    "json invalid": (lambda: _zip([("graph.json", b"{nodes: }"),
                                   ("arrays.npz", _valid_members()[1])]), "not valid JSON"),
    "json NaN literal": (lambda: _zip([("graph.json", b'{"format": NaN}'),
                                       ("arrays.npz", _valid_members()[1])]), "NaN"),
    "json deep nesting": (lambda: _zip([("graph.json", b"[" * 200000 + b"]" * 200000),
                                        ("arrays.npz", _valid_members()[1])]),
                          "nested too deeply|must hold a JSON object"),
    "json top-level list": (lambda: _zip([("graph.json", b"[]"),
                                          ("arrays.npz", _valid_members()[1])]),
                            "JSON object"),
    # the document
    "wrong format": (_doc_case(_set(lambda d: (d, "format"), "tensorflow.graph")),
                     "not a symgraph graph file"),
    "newer version": (_doc_case(_set(lambda d: (d, "version"), 99)), "newer symgraph"),
    "version as text": (_doc_case(_set(lambda d: (d, "version"), "1")), "bad format version"),
    "unknown top field": (_doc_case(_set(lambda d: (d, "exec"), "rm -rf /")),
                          "unknown fields"),
    "missing nodes": (_doc_case(lambda d, a: d.pop("nodes") and None), "lacks"),
    "empty nodes": (_doc_case(_set(lambda d: (d, "nodes"), [])), "non-empty"),
    "node not object": (_doc_case(_set(lambda d: (d["nodes"], 0), "x")), "JSON object"),
    "unknown op": (_doc_case(_set(lambda d: (_node(d, "add"), "op"), "os.system")),
                   "unknown op"),
    "import op": (_doc_case(_set(lambda d: (_node(d, "add"), "op"), "__import__")),
                  "unknown op"),
    "node id out of order": (_doc_case(_set(lambda d: (d["nodes"][1], "id"), 7)),
                             "listed in order"),
    "forward reference": (_doc_case(_forward_ref), "does not exist before it"),
    "self reference (cycle)": (_doc_case(_self_ref), "does not exist before it"),
    "negative input": (_doc_case(_set(lambda d: (_node(d, "matmul"), "inputs"), [0, -1])),
                       "does not exist"),
    "bool input index": (_doc_case(_set(lambda d: (_node(d, "matmul"), "inputs"),
                                        [0, True])), "list of node indices"),
    "float input index": (_doc_case(_set(lambda d: (_node(d, "matmul"), "inputs"),
                                         [0, 1.0])), "list of node indices"),
    "wrong elementwise arity": (_doc_case(_add_input), "takes 2 input"),
    "wrong kernel arity": (_doc_case(_set(lambda d: (_node(d, "matmul"), "inputs"), [0])),
                           "takes 2 input"),
    "unknown attribute": (_doc_case(_set(lambda d: (_node(d, "sum")["attrs"], "code"),
                                         "print(1)")), "no attribute"),
    "attribute wrong type": (_doc_case(_set(lambda d: (_node(d, "sum")["attrs"], "axes"),
                                            "0")), "attribute 'axes'"),
    "unknown attribute tag": (_doc_case(_set(lambda d: (_node(d, "sum")["attrs"], "axes"),
                                             {"$eval": "1"})), "attribute 'axes'"),
    "attribute nested too deep": (_doc_case(_deep_attr), "nested deeper"),
    "bad $float": (_doc_case(_set(lambda d: (_node(d, "sum")["attrs"], "axes"),
                                  [{"$float": "1e5"}])), "\\$float"),
    "loop out of range": (_doc_case(_loop_ref), "attribute 'axes'"),
    "bad dtype": (_doc_case(_set(lambda d: (_node(d, "add"), "dtype"), "object")),
                  "bad dtype"),
    "float128 dtype": (_doc_case(_set(lambda d: (_node(d, "add"), "dtype"), "float128")),
                       "bad dtype"),
    "cast to complex": (_doc_case(lambda d, a: _node(d, "sum").update(
        op="cast", attrs={"dtype": "complex128"}) and None), "attribute 'dtype'"),
    "negative dim": (_doc_case(_set(lambda d: (_node(d, "add"), "shape"), [None, -2])),
                     "bad shape"),
    "shape not list": (_doc_case(_set(lambda d: (_node(d, "add"), "shape"), "(None, 2)")),
                       "bad shape"),
    "rank 100": (_doc_case(_set(lambda d: (_node(d, "add"), "shape"), [1] * 100)),
                 "bad shape"),
    "absurd variable": (_doc_case(_absurd_variable), "max_bytes"),
    "absurd fill": (_doc_case(_huge_fill), "max_bytes"),
    "shape disagrees with rule": (_doc_case(_set(lambda d: (_node(d, "matmul"), "shape"),
                                                 [None, 5])), "the op's rule gives"),
    "dtype disagrees with rule": (_doc_case(_set(lambda d: (_node(d, "matmul"), "dtype"),
                                                 "float64")), "the op's rule gives|is float"),
    "duplicate names": (_doc_case(_dup_name), "used by an earlier node"),
    "scope mismatch": (_doc_case(_set(lambda d: (_node(d, "add"), "scope"), "evil")),
                       "scope"),
    "variable without value": (_doc_case(lambda d, a: _node(d, "variable").pop("value") and
                                         None), "needs its 'value'"),
    "missing array": (_doc_case(_set(lambda d: (_node(d, "variable"), "value"), "v42")),
                      "does not hold"),
    "array dtype mismatch": (_doc_case(_array_dtype), "the node is float32"),
    "array shape mismatch": (_doc_case(_array_shape), "has shape"),
    "array used twice": (_doc_case(_array_twice), "used by an earlier node"),
    "unused array": (_doc_case(_unused_array), "no node uses"),
    "constant without value": (_doc_case(lambda d, a: _node(d, "constant").update(attrs={})
                                         and None), "needs its 'value'"),
    "leaf with inputs": (_doc_case(_set(lambda d: (_node(d, "variable"), "inputs"), [0])),
                         "does not exist|leaf|takes 0"),
    "bad location": (_doc_case(_set(lambda d: (_node(d, "add"), "location"), "here")),
                     "location"),
    "input not a placeholder": (_doc_case(_set(lambda d: (d, "inputs"), [1])),
                                "not a placeholder"),
    "input twice": (_doc_case(_set(lambda d: (d, "inputs"), [0, 0])), "twice"),
    "no outputs": (_doc_case(_set(lambda d: (d, "outputs"), [])), "empty"),
    "update of a placeholder": (_doc_case(_update_not_variable), "update"),
    "unknown pass": (_doc_case(_set(lambda d: (d, "function"), {"passes": ["exec"]})),
                     "passes"),
    "bad loop table": (_doc_case(_bad_loop_table), "loop 0 .* must be an object"),
    "getitem garbage index": (_doc_case(_getitem_garbage), "getitem"),
    "conv bad padding": (_doc_case(_conv_bad_padding), "conv"),
    "unfed placeholder": (_doc_case(_set(lambda d: (d, "inputs"), [])), "must be fed"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_file_is_refused_with_a_clear_error(case, tmp_path):
    make, message = HOSTILE[case]
    path = tmp_path / "hostile.sg"
    path.write_bytes(make())
    before = len(get_default_graph().nodes)
    with pytest.raises(GraphFileError, match=message) as info:
        symgraph.load(path)
    assert str(path) in str(info.value)  # names the file
    assert len(get_default_graph().nodes) == before  # nothing built in the user's graph


def test_there_are_many_hostile_cases():
    assert len(HOSTILE) >= 50


def test_hostile_node_errors_name_the_node(tmp_path):
    doc, arrays = _base()
    _node(doc, "matmul")["shape"] = [None, 5]
    with pytest.raises(GraphFileError, match=r"node \d+ 'matmul' \(matmul\)"):
        symgraph.io.loads(_file(doc, arrays))


def test_max_bytes_limits_the_arrays():
    x, _, p = _mlp()
    data = symgraph.io.dumps(K.function([x], [p]))
    with pytest.raises(GraphFileError, match="max_bytes"):
        symgraph.io.loads(data, max_bytes=64)
    with pytest.raises(ValueError, match="max_bytes"):
        symgraph.io.loads(data, max_bytes=-1)


def test_load_errors_for_paths(tmp_path):
    with pytest.raises(GraphFileError, match="no such file"):
        symgraph.load(tmp_path / "missing.sg")
    with pytest.raises(GraphFileError, match="directory"):
        symgraph.load(tmp_path)
    with pytest.raises(GraphFileError, match="expected bytes"):
        symgraph.io.loads("not bytes")


def test_save_is_atomic_and_overwrites(tmp_path):
    x, _, p = _mlp()
    path = tmp_path / "m.sg"
    path.write_bytes(b"old")
    symgraph.save(K.function([x], [p]), path)
    assert zipfile.is_zipfile(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.sg"]  # no temp file left


def test_a_file_whose_graph_folds_constants_loads_beside_another_default_graph():
    # constant folding used to put the folded scalar into the default graph, not the
    # loaded one ("belongs to another graph"); Keras optimizers' 1 - momentum is such a fold
    x = K.placeholder((None, 2))
    f = K.function([x], [x * (K.constant(1.0) - K.constant(0.25))])
    data = symgraph.io.dumps(f)
    K.clear_session()
    K.placeholder((3,))  # the default graph is another, non-empty graph
    g = symgraph.io.loads(data)
    np.testing.assert_array_equal(g([np.ones((1, 2), "float32")])[0], [[0.75, 0.75]])
