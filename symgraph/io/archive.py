"""The container of a graph file: a zip with exactly ``graph.json`` and ``arrays.npz``.

Reading is defensive: the member list must be exactly those two names (no paths, no
duplicates, no directories, no encryption), every declared size is checked against
the limits *before* anything is decompressed, a member is read with a byte budget
(its declared size; a lying header stops at the budget), a compressed member may not
expand more than :data:`MAX_RATIO` times (zip bombs), and ``arrays.npz`` is parsed
member by member: each ``.npy`` header is read with NumPy's header parser, its dtype
must be one symgraph supports (never ``object``: nothing is unpickled), and its shape
must account for exactly the member's bytes. Nothing here evaluates or imports code.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass

import numpy as np

from ..core import dtypes
from ..errors import GraphFileError

GRAPH_MEMBER = "graph.json"
ARRAYS_MEMBER = "arrays.npz"
MEMBERS = (GRAPH_MEMBER, ARRAYS_MEMBER)
MAX_JSON_BYTES = 256 << 20  #: graph.json larger than this is refused
MAX_RATIO = 200  #: a compressed member may not expand more than this (above 1 MiB)
_RATIO_FREE = 1 << 20  # small members may compress well (JSON of a tiny graph)
MAX_ARRAYS = 1 << 20  #: members of arrays.npz
_ARRAY_NAME = re.compile(r"^[a-z]+[0-9]{1,9}\.npy$")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ArraySpec:
    """What one ``.npy`` member declares: read before any data is."""

    key: str
    shape: tuple
    dtype: np.dtype
    fortran_order: bool
    data_offset: int
    nbytes: int


def write(path_or_buffer, graph_json: bytes, arrays: dict[str, np.ndarray]) -> None:
    """Write a graph file: ``graph.json`` (deflated) and ``arrays.npz`` (stored, its
    members stored too, so arrays are read without inflating)."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_STORED, allowZip64=True) as npz:
        for key, array in arrays.items():
            with npz.open(f"{key}.npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.asarray(array, order="C"),
                                           allow_pickle=False)
    with zipfile.ZipFile(path_or_buffer, "w", allowZip64=True) as zf:
        zf.writestr(zipfile.ZipInfo(GRAPH_MEMBER, date_time=(2020, 1, 1, 0, 0, 0)),
                    graph_json, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr(zipfile.ZipInfo(ARRAYS_MEMBER, date_time=(2020, 1, 1, 0, 0, 0)),
                    inner.getvalue(), compress_type=zipfile.ZIP_STORED)


class Archive:
    """An open graph file, its members checked (use as a context manager).

    Args:
        source: a path or a binary file object.
        label: how error messages name the file.
        max_bytes: the most bytes the arrays may hold in all.
    """

    def __init__(self, source, label: str, max_bytes: int):
        self.label = label
        self.max_bytes = max_bytes
        try:
            self._zip = zipfile.ZipFile(source, "r")
        except FileNotFoundError:
            raise GraphFileError(f"{label}: no such file") from None
        except IsADirectoryError:
            raise GraphFileError(f"{label}: is a directory, not a graph file") from None
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
            raise GraphFileError(f"{label}: not a symgraph graph file (not a readable zip "
                                 f"archive: {exc})") from None
        try:
            self._infos = self._check_members()
        except GraphFileError:
            self._zip.close()
            raise
        self._npz = None

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._npz is not None:
            self._npz.close()
        self._zip.close()

    def _error(self, detail: str) -> GraphFileError:
        return GraphFileError(f"{self.label}: {detail}")

    def _check_members(self) -> dict:
        infos = self._zip.infolist()
        names = [i.filename for i in infos]
        if len(names) != len(set(names)):
            raise self._error("the archive holds the same member name twice")
        unexpected = [n for n in names if n not in MEMBERS]
        if unexpected:
            shown = ", ".join(repr(n) for n in unexpected[:5])
            raise self._error(f"unexpected member(s) {shown}: a graph file holds exactly "
                              f"{GRAPH_MEMBER!r} and {ARRAYS_MEMBER!r}")
        missing = [n for n in MEMBERS if n not in names]
        if missing:
            raise self._error(f"not a symgraph graph file: member {missing[0]!r} is missing")
        found = {i.filename: i for i in infos}
        for info in infos:
            if info.flag_bits & 0x1:
                raise self._error(f"member {info.filename!r} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise self._error(f"member {info.filename!r} uses an unsupported "
                                  f"compression method ({info.compress_type})")
            if info.file_size > _RATIO_FREE and \
                    info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise self._error(f"member {info.filename!r} would expand "
                                  f"{info.compress_size} bytes to {info.file_size} "
                                  f"(more than {MAX_RATIO}x: refused as a zip bomb)")
        if found[GRAPH_MEMBER].file_size > MAX_JSON_BYTES:
            raise self._error(f"{GRAPH_MEMBER} declares {found[GRAPH_MEMBER].file_size} bytes "
                              f"(the limit is {MAX_JSON_BYTES})")
        if found[ARRAYS_MEMBER].file_size > self.max_bytes + (64 << 20):
            raise self._error(f"{ARRAYS_MEMBER} declares {found[ARRAYS_MEMBER].file_size} "
                              f"bytes, more than max_bytes={self.max_bytes}")
        return found

    def read_graph_json(self) -> bytes:
        """The bytes of ``graph.json`` (at most its declared size)."""
        return self._read_member(self._zip, self._infos[GRAPH_MEMBER])

    def _read_member(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
        budget = info.file_size
        parts, total = [], 0
        try:
            with zf.open(info) as fh:
                while True:
                    chunk = fh.read(min(_CHUNK, budget - total + 1))
                    if not chunk:
                        break
                    total += len(chunk)
                    if total > budget:
                        raise self._error(f"member {info.filename!r} holds more bytes than "
                                          "its header declares")
                    parts.append(chunk)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
            raise self._error(f"member {info.filename!r} is damaged ({exc})") from None
        if total != budget:
            raise self._error(f"member {info.filename!r} is truncated")
        return b"".join(parts)

    # -- arrays.npz -----------------------------------------------------------------
    def array_specs(self) -> dict[str, ArraySpec]:
        """Every array's key, dtype and shape, from the ``.npy`` headers only."""
        try:
            self._npz = zipfile.ZipFile(self._zip.open(self._infos[ARRAYS_MEMBER]), "r")
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise self._error(f"{ARRAYS_MEMBER} is not a readable npz archive ({exc})") from None
        infos = self._npz.infolist()
        if len(infos) > MAX_ARRAYS:
            raise self._error(f"{ARRAYS_MEMBER} holds {len(infos)} arrays (the limit is "
                              f"{MAX_ARRAYS})")
        specs: dict[str, ArraySpec] = {}
        total = 0
        for info in infos:
            name = info.filename
            if not _ARRAY_NAME.match(name):
                raise self._error(f"{ARRAYS_MEMBER}: unexpected member {name!r} (array "
                                  "members are named like 'v12.npy')")
            key = name[:-4]
            if key in specs:
                raise self._error(f"{ARRAYS_MEMBER}: array {key!r} appears twice")
            if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED,
                                                                   zipfile.ZIP_DEFLATED):
                raise self._error(f"{ARRAYS_MEMBER}: array {key!r} is encrypted or uses an "
                                  "unsupported compression method")
            if info.file_size > _RATIO_FREE and \
                    info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise self._error(f"{ARRAYS_MEMBER}: array {key!r} would expand more than "
                                  f"{MAX_RATIO}x (refused as a zip bomb)")
            spec = self._read_header(info, key)
            total += spec.nbytes
            if total > self.max_bytes:
                raise self._error(f"the arrays hold more than max_bytes={self.max_bytes} "
                                  f"bytes (at array {key!r})")
            specs[key] = spec
        return specs

    def _read_header(self, info: zipfile.ZipInfo, key: str) -> ArraySpec:
        where = f"{ARRAYS_MEMBER}: array {key!r}"
        try:
            with self._npz.open(info) as fh:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
                elif version in ((2, 0), (3, 0)):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
                else:
                    raise ValueError(f"unsupported .npy version {version}")
                offset = fh.tell()
        except (ValueError, TypeError, SyntaxError, EOFError, OSError,
                zipfile.BadZipFile) as exc:
            raise self._error(f"{where} has a bad .npy header ({exc})") from None
        if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
            raise self._error(f"{where} has dtype {dtype} (object and structured arrays "
                              "are never loaded)")
        if dtype.name not in dtypes.SUPPORTED:
            raise self._error(f"{where} has unsupported dtype {dtype}")
        if not isinstance(shape, tuple) or len(shape) > 32 or any(
                type(d) is not int or d < 0 for d in shape):
            raise self._error(f"{where} has a bad shape {shape!r}")
        n = 1
        for d in shape:
            n *= d
        nbytes = n * dtype.itemsize
        if nbytes > self.max_bytes:
            raise self._error(f"{where} declares shape {shape} ({nbytes} bytes), more than "
                              f"max_bytes={self.max_bytes}")
        if offset + nbytes != info.file_size:
            raise self._error(f"{where} declares shape {shape} {dtype} ({nbytes} bytes) but "
                              f"its member holds {info.file_size - offset} bytes of data")
        return ArraySpec(key, shape, dtype, bool(fortran), offset, nbytes)

    def read_array(self, spec: ArraySpec) -> np.ndarray:
        """The data of one array (validated by :meth:`array_specs`), native byte order,
        C layout, writable."""
        raw = np.empty(spec.nbytes, dtype=np.uint8)
        view = memoryview(raw)
        filled = 0
        try:
            with self._npz.open(spec.key + ".npy") as fh:
                fh.seek(spec.data_offset)
                while filled < spec.nbytes:
                    n = fh.readinto(view[filled:filled + _CHUNK])
                    if not n:
                        break
                    filled += n
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise self._error(f"{ARRAYS_MEMBER}: array {spec.key!r} is damaged ({exc})") from None
        if filled != spec.nbytes:
            raise self._error(f"{ARRAYS_MEMBER}: array {spec.key!r} is truncated")
        order = "F" if spec.fortran_order else "C"
        data = raw.view(spec.dtype).reshape(spec.shape, order=order)
        if not spec.dtype.isnative:
            return data.astype(spec.dtype.newbyteorder("="), order="C")
        return np.asarray(data, order="C")  # no copy for C-order members; 0-d stays 0-d
