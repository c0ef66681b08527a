"""What Keras 2 relies on from the backend, checked without Keras installed:
placeholder metadata, lists of tensors packed into one, layer outputs not shared by
hash-consing, and the symgraph.keras2_compat aliases and HDF5 attribute wrapper."""

from __future__ import annotations

import collections
import collections.abc

import numpy as np
import pytest

import symgraph.backend as K
import symgraph.keras2_compat as compat
from symgraph.ops import as_tensor


def test_placeholder_carries_keras_shape():
    x = K.placeholder(shape=(None, 3))
    assert x._keras_shape == (None, 3) and x._uses_learning_phase is False
    assert K.placeholder(ndim=2)._keras_shape == (None, None)


def test_list_of_tensors_is_stacked():
    x = K.placeholder((None, 3, 4))
    n = K.prod([K.shape(x)[0], K.shape(x)[1]])  # BatchNormalization's sample size
    v = K.stack([K.shape(x)[2], 5])
    got = K.function([x], [n, v, as_tensor([[K.shape(x)[0]], [2]])])(
        [np.zeros((7, 3, 4), "float32")])
    assert int(got[0]) == 21
    np.testing.assert_array_equal(got[1], [4, 5])
    np.testing.assert_array_equal(got[2], [[7], [2]])
    assert got[1].dtype == np.int32
    np.testing.assert_array_equal(K.eval(as_tensor([K.constant(1.5), 2.0])),
                                  np.array([1.5, 2.0], "float32"))


def test_list_of_tensors_needs_one_dtype_and_rank():
    with pytest.raises(TypeError, match="different dtypes"):
        as_tensor([K.constant(1.0), K.constant(1, dtype="int32")])
    with pytest.raises(ValueError):
        as_tensor([K.constant([1.0, 2.0]), K.constant(1.0)])


def test_a_keras_tagged_node_is_not_handed_out_again():
    x = K.placeholder((None, 2))
    a = K.relu(x)
    assert K.relu(x) is a  # untagged: hash-consed as usual
    a._keras_history = ("layer", 0, 0)
    b = K.relu(x)
    assert b is not a
    assert K.relu(x) is b  # the new node is shared until it is tagged too
    b._keras_history = ("layer2", 0, 0)
    assert K.relu(x) is not b
    data = np.array([[-1.0, 2.0]], "float32")
    out = K.function([x], [a, b])([data])
    np.testing.assert_array_equal(out[0], out[1])


def test_aliases():
    compat.install()  # idempotent
    assert collections.Iterable is collections.abc.Iterable
    assert collections.Mapping is collections.abc.Mapping
    assert np.Inf == np.inf
    assert np.string_ is np.bytes_


def test_h5py3_attributes_read_as_bytes(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "w.h5"
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"2.3.1"
        f.attrs["layer_names"] = [b"dense_1", b"dense_2"]
        f.attrs["fixed"] = np.array([b"ab"])
        g = f.create_group("dense_1")
        g.attrs["weight_names"] = [b"dense_1/kernel:0"]
        g.create_dataset("w", data=np.arange(3.0))

    seen = {}

    def loader(group, layers, reshape=False):  # what Keras's loader does with the file
        seen["version"] = group.attrs["keras_version"].decode("utf8")
        seen["names"] = [n.decode("utf8") for n in group.attrs["layer_names"]]
        seen["fixed"] = [n.decode("utf8") for n in group.attrs["fixed"]]
        sub = group["dense_1"]
        seen["weights"] = [n.decode("utf8") for n in sub.attrs["weight_names"]]
        seen["data"] = np.asarray(sub["w"]).tolist()
        seen["contains"] = ("keras_version" in group.attrs, "dense_1" in group)
        return layers

    wrapped = compat._wrap_loader(loader)
    assert compat._wrap_loader(wrapped) is wrapped
    with h5py.File(path, "r") as f:
        assert wrapped(f, ["layers"]) == ["layers"]
    assert seen == {"version": "2.3.1", "names": ["dense_1", "dense_2"], "fixed": ["ab"],
                    "weights": ["dense_1/kernel:0"], "data": [0.0, 1.0, 2.0],
                    "contains": (True, True)}
