"""Let Keras 2.3.1 (2019) import and save weights on Python 3.10+, NumPy 2 and h5py 3.

Import this module before ``import keras``; Keras's own files stay untouched::

    import symgraph.keras2_compat  # noqa: F401  (before keras)
    import keras                   # with KERAS_BACKEND=symgraph.backend

What it does, and why (each step only adds what is missing, and only once):

* ``collections.Iterable``, ``collections.Mapping``, ``collections.Sequence``...:
  aliases of the ``collections.abc`` classes. Python 3.10 removed them;
  ``keras/callbacks/callbacks.py`` does ``from collections import Iterable`` at import
  time and ``keras/engine/training_utils.py`` calls ``isinstance(x, collections.Mapping)``
  in ``compile``.
* ``numpy.Inf`` and ``numpy.string_``: aliases of ``numpy.inf`` and ``numpy.bytes_``,
  removed in NumPy 2.0. Keras uses ``np.Inf`` in the ``EarlyStopping``,
  ``ModelCheckpoint`` and ``ReduceLROnPlateau`` callbacks and ``np.string_`` when
  ``load_model`` reads an HDF5 file.
* h5py 3 stores the ``bytes`` Keras writes as HDF5 attributes (``keras_version``,
  ``backend`` and the ``layer_names`` list) as variable-length strings and reads them
  back as ``str``; Keras then calls ``.decode('utf8')`` on them
  (``keras/engine/saving.py``, ``load_weights_from_hdf5_group`` and
  ``load_weights_from_hdf5_group_by_name``), so ``model.load_weights`` fails. When
  ``keras.engine.saving`` is imported, those two functions are wrapped so that the
  group they read shows ``str`` attributes (and ``str`` items of attribute arrays) as
  UTF-8 ``bytes``, as h5py 2 did (``weight_names`` of each layer's group too).
  ``keras.utils.io_utils.H5Dict.__getitem__``, which ``keras.models.load_model`` reads
  through (``model_config.decode('utf-8')``), gets the same conversion. Keras writes
  every string it stores in these files as bytes, so this restores what it wrote. h5py 2
  has no wheels for Python 3.9+, so downgrading h5py is not an option.
* ``keras.utils.io_utils.save_to_binary_h5py`` (``model.save`` to a binary stream)
  opens its in-memory file without a mode, which meant 'a' in h5py 2 and means 'r'
  in h5py 3, and reads the image through ``File.fid``, which h5py 3 calls ``File.id``.
"""

from __future__ import annotations

import collections
import collections.abc
import functools
import importlib.abc
import importlib.machinery
import sys

import numpy as np

_ABC_NAMES = ("Callable", "Container", "Hashable", "Iterable", "Iterator", "Mapping",
              "MutableMapping", "MutableSequence", "MutableSet", "Sequence", "Set", "Sized")
_NUMPY_ALIASES = {"Inf": np.inf, "string_": np.bytes_}
_SAVING = "keras.engine.saving"
_IO_UTILS = "keras.utils.io_utils"
_LOADERS = ("load_weights_from_hdf5_group", "load_weights_from_hdf5_group_by_name")


class _BytesAttrs(collections.abc.Mapping):
    """An h5py ``AttributeManager`` seen through h5py 2's eyes: ``str`` values as bytes."""

    def __init__(self, attrs):
        self._attrs = attrs

    def __getitem__(self, key):
        return _bytes_item(self._attrs[key])

    def __contains__(self, key) -> bool:
        return key in self._attrs

    def __iter__(self):
        return iter(self._attrs)

    def __len__(self) -> int:
        return len(self._attrs)


class _Group:
    """An h5py group or file whose ``attrs`` read as :class:`_BytesAttrs`, and whose
    subgroups do too; everything else goes to the wrapped object."""

    def __init__(self, group):
        self._group = group

    @property
    def attrs(self) -> _BytesAttrs:
        return _BytesAttrs(self._group.attrs)

    def __getitem__(self, key):
        import h5py

        item = self._group[key]
        return _Group(item) if isinstance(item, h5py.Group) else item

    def __contains__(self, key) -> bool:
        return key in self._group

    def __iter__(self):
        return iter(self._group)

    def __len__(self) -> int:
        return len(self._group)

    def __getattr__(self, name):
        return getattr(self._group, name)


def _wrap_loader(fn):
    if getattr(fn, "_symgraph_h5py3", False):
        return fn

    @functools.wraps(fn)
    def load(f, *args, **kwargs):
        return fn(_Group(f), *args, **kwargs)

    load._symgraph_h5py3 = True
    return load


def _patch_saving(module) -> None:
    for name in _LOADERS:
        if hasattr(module, name):
            setattr(module, name, _wrap_loader(getattr(module, name)))
    if hasattr(module, "save_to_binary_h5py"):  # bound by name at import
        module.save_to_binary_h5py = _save_to_binary_h5py


def _save_to_binary_h5py(save_function, stream):
    """Keras's ``io_utils.save_to_binary_h5py`` with the in-memory file opened in mode
    'w': Keras relies on h5py 2's default mode 'a', and h5py 3 defaults to 'r', which
    cannot open a file that does not exist yet."""
    import h5py

    with h5py.File("in-memory-h5py", mode="w", driver="core", backing_store=False) as h5file:
        return_value = save_function(h5file)
        h5file.flush()
        binary_data = h5file.id.get_file_image()  # h5py 3 has no .fid
    stream.write(binary_data)
    return return_value


def _bytes_item(value):
    if isinstance(value, str):
        return value.encode("utf8")
    if isinstance(value, np.ndarray) and value.dtype == object:
        return np.array([v.encode("utf8") if isinstance(v, str) else v
                         for v in value.ravel()]).reshape(value.shape)
    return value


def _patch_io_utils(module) -> None:
    if hasattr(module, "save_to_binary_h5py"):
        module.save_to_binary_h5py = _save_to_binary_h5py
    h5dict = getattr(module, "H5Dict", None)
    getitem = getattr(h5dict, "__getitem__", None)
    if getitem is None or getattr(getitem, "_symgraph_h5py3", False):
        return

    @functools.wraps(getitem)
    def __getitem__(self, attr):  # noqa: N807
        return _bytes_item(getitem(self, attr))

    __getitem__._symgraph_h5py3 = True
    h5dict.__getitem__ = __getitem__


_PATCHES = {_SAVING: _patch_saving, _IO_UTILS: _patch_io_utils}


class _KerasHook(importlib.abc.MetaPathFinder):
    """Finds ``keras.engine.saving`` and ``keras.utils.io_utils`` with the normal finders
    and patches each right after it has run (Keras's other modules reach the patched
    functions through the module or the class, so they see the wrapped ones)."""

    def find_spec(self, fullname, path, target=None):
        patch = _PATCHES.get(fullname)
        if patch is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        exec_module = spec.loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            patch(module)

        spec.loader.exec_module = exec_and_patch
        return spec


def install() -> None:
    """Add the aliases and the h5py 3 fix (idempotent; runs when this module is imported)."""
    for name in _ABC_NAMES:
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))
    for name, value in _NUMPY_ALIASES.items():
        if name not in np.__dict__:  # NumPy 2 raises AttributeError from __getattr__
            setattr(np, name, value)
    for name, patch in _PATCHES.items():
        if name in sys.modules:
            patch(sys.modules[name])
    if not any(isinstance(f, _KerasHook) for f in sys.meta_path):
        sys.meta_path.insert(0, _KerasHook())


install()
