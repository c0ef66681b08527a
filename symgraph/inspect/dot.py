"""Graphviz DOT text written by symgraph (no graphviz or pydot import), and images drawn
by Graphviz's ``dot`` program when it is on PATH."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

from ..core.shapes import shape_str
from ..core.tensor import Tensor
from ..errors import docs_hint
from .graphdata import COLOURS, _body_edges, _collect, _Export, _family, _input_edges, _scope
from .view import Kernel

_LEAF_SHAPES = {"placeholder": "ellipse", "variable": "cylinder", "constant": "note"}
_KERNEL_FILL, _KERNEL_BORDER = "#e6e6f5", "#7f7fbf"
_RENDER_TIMEOUT_S = 120


# -- DOT ----------------------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _dot_escape(text: str) -> str:
    """``text`` for the inside of a quoted DOT string: backslashes and quotes escaped (DOT
    reads ``\\n``, ``\\l``, ``\\N``... as escapes), line breaks as ``\\n``, other control
    characters as spaces (a raw line break would split the statement in the file)."""
    text = str(text).replace("\\", "\\\\").replace('"', '\\"')
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return _CONTROL.sub(" ", text)


def _dot_str(text: str) -> str:
    return '"' + _dot_escape(text) + '"'


def _dot_label(*lines: str) -> str:
    return '"' + "\\n".join(map(_dot_escape, lines)) + '"'


@dataclass
class _Cluster:
    """A scope (or, with ``kernel``, a fused kernel) and what is drawn inside it."""

    label: str
    tooltip: str
    kernel: Kernel | None = None
    nodes: list = field(default_factory=list)
    children: list = field(default_factory=list)


def _common_scope(scopes: list[str]) -> str:
    parts = [s.split("/") if s else [] for s in scopes]
    common = []
    for level in zip(*parts):
        if any(p != level[0] for p in level):
            break
        common.append(level[0])
    return "/".join(common)


def _scope_tree(ex: _Export, fused: dict[int, Kernel]) -> _Cluster:
    """The nested scope clusters, each node in the innermost one; the members of a fused
    kernel go into the kernel's cluster, placed in the scope its members share."""
    root = _Cluster("", "")
    scopes: dict[str, _Cluster] = {"": root}

    def scope_cluster(scope: str) -> _Cluster:
        found = scopes.get(scope)
        if found is None:
            parent = scope_cluster(_scope(scope))
            found = scopes[scope] = _Cluster(scope.rpartition("/")[2], scope)
            parent.children.append(found)
        return found

    kernel_clusters: dict[str, _Cluster] = {}
    for node in ex.nodes:  # creation order: clusters appear in the order of their first node
        kernel = fused.get(node.id)
        if kernel is None:
            scope_cluster(_scope(node.name)).nodes.append(node)
            continue
        cluster = kernel_clusters.get(kernel.name)
        if cluster is None:
            where = _common_scope([_scope(m.name) for m in kernel.members])
            cluster = kernel_clusters[kernel.name] = _Cluster(
                f"{kernel.name} {kernel.kind}", f"{kernel.name}: {kernel.kind}", kernel)
            scope_cluster(where).children.append(cluster)
        cluster.nodes.append(node)
    return root


def _dot_node(ex: _Export, node: Tensor, fused: dict[int, Kernel]) -> str:
    family = _family(node)
    lines = [node.name, f"{node.op.name} {shape_str(node.shape)} {node.dtype}"]
    kernel = ex.kernel_of.get(node.id)
    if kernel is not None and node.id not in fused:  # no cluster shows it: say it here
        lines.append(f"{kernel.name} {kernel.kind}")
    attrs = [f"label={_dot_label(*lines)}", f'fillcolor="{COLOURS.get(family, "#ffffff")}"']
    if family in _LEAF_SHAPES:
        attrs.append(f"shape={_LEAF_SHAPES[family]}")
    if node.id in ex.output_ids:
        attrs.append("peripheries=2")
    return f"n{node.id} [{', '.join(attrs)}];"


def _dot_cluster(ex: _Export, cluster: _Cluster, fused: dict[int, Kernel], counter: list,
                 depth: int, out: list) -> None:
    pad = "  " * depth
    if cluster.kernel is not None:
        name = f"cluster_{cluster.kernel.name}"
        style = (f'style="filled,rounded", fillcolor="{_KERNEL_FILL}", '
                 f'color="{_KERNEL_BORDER}"')
    else:
        name = f"cluster_{counter[0]}"
        counter[0] += 1
        style = 'style="rounded", color="#999999"'
    out.append(f"{pad}subgraph {name} {{")
    out.append(f"{pad}  graph [label={_dot_str(cluster.label)}, "
               f"tooltip={_dot_str(cluster.tooltip)}, {style}];")
    _dot_body(ex, cluster, fused, counter, depth + 1, out)
    out.append(f"{pad}}}")


def _dot_body(ex: _Export, cluster: _Cluster, fused: dict[int, Kernel], counter: list,
              depth: int, out: list) -> None:
    pad = "  " * depth
    for node in cluster.nodes:
        out.append(pad + _dot_node(ex, node, fused))
    for child in cluster.children:
        _dot_cluster(ex, child, fused, counter, depth, out)


def to_dot(x, *, compiled: bool = False, rankdir: str = "TB") -> str:
    """Graphviz DOT text of ``x`` (what :func:`graph_view` accepts), written by symgraph
    (no graphviz package needed; :func:`render` runs the ``dot`` program for images).

    Each name scope is a ``subgraph cluster_<n>`` (nested scopes nested, labelled with
    their last component). A node's label is ``name\\nop shape dtype``; its fill colour
    tells the op family (elementwise, reduce, view, kernel) and leaves apart
    (placeholder: ellipse, variable: cylinder, constant: note); outputs have a double
    border. Edges are labelled with the source's shape and dashed when the consumer
    reads only the shape; a dotted ``body`` edge runs from each output of a loop body
    to its ``scan`` node. With ``compiled=True`` each fused kernel (several nodes) is a
    shaded ``cluster_k<n>`` labelled with its name and kind, inside the scope its
    members share; a single-node kernel's name is the third line of its label.

    Args:
        x: a tensor, a list of tensors, a compiled function or a graph file path.
        compiled: export the compiled plan's graph (see :func:`to_networkx`).
        rankdir: Graphviz's layout direction: ``"TB"``, ``"LR"``, ``"BT"`` or ``"RL"``.

    Returns:
        The DOT text (ends with a newline).

    Example:
        >>> import symgraph.backend as K
        >>> K.clear_session()
        >>> x = K.placeholder((2,), name="x")
        >>> print(to_dot(K.exp(x)))  # doctest: +ELLIPSIS
        digraph symgraph {
          graph [rankdir=TB, ...];
        ...
          n0 [label="x\\nplaceholder (2,) float32", fillcolor="#fff2cc", shape=ellipse];
          n1 [label="exp\\nexp (2,) float32", fillcolor="#cfe2f3", peripheries=2];
          n0 -> n1 [label="(2,)"];
        }
    """
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"rankdir must be 'TB', 'LR', 'BT' or 'RL', got {rankdir!r}")
    ex = _collect(x, compiled)
    fused = {m.id: k for k in ex.kernels if len(k.members) > 1 for m in k.members}
    out = ["digraph symgraph {",
           f'  graph [rankdir={rankdir}, fontname="Helvetica", fontsize=11'
           + (f", label={_dot_str(ex.view.label)}, labelloc=t" if ex.view.label else "")
           + "];",
           '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
           '  edge [fontname="Helvetica", fontsize=8, color="#555555"];']
    _dot_body(ex, _scope_tree(ex, fused), fused, [0], 1, out)
    for node in ex.nodes:
        for _, src, data in _input_edges(ex, node):
            attrs = f"label={_dot_str(shape_str(src.shape))}" + ("" if data else ", style=dashed")
            out.append(f"  n{src.id} -> n{node.id} [{attrs}];")
    drawn = set()
    for _, body_out, scan in _body_edges(ex):
        if (body_out.id, scan.id) not in drawn:  # a step output that is also a new state
            drawn.add((body_out.id, scan.id))
            out.append(f'  n{body_out.id} -> n{scan.id} [label="body", style=dotted];')
    out.append("}")
    return "\n".join(out) + "\n"


def render(x, path, *, compiled: bool = False, format: str | None = None) -> str:
    """Write ``x`` as a picture (or as DOT text) to ``path``.

    ``.dot`` / ``.gv`` paths get the DOT text of :func:`to_dot`. Other formats (``png``,
    ``svg``, ``pdf``..., from ``format`` or the path's suffix) are drawn by Graphviz's
    ``dot`` program, which must be on ``PATH`` (it is run directly, with a timeout, never
    through a shell).

    Args:
        x: a tensor, a list of tensors, a compiled function or a graph file path.
        path: the file to write.
        compiled: draw the compiled plan's graph (see :func:`to_networkx`).
        format: a Graphviz output format (``"svg"``, ``"png"``, ``"pdf"``, ``"dot"``...);
            by default the path's suffix.

    Returns:
        ``path`` as a string.

    Raises:
        RuntimeError: ``dot`` is needed but not on PATH, fails or times out.
        ValueError: no format is given and the path has no suffix.

    Example:
        >>> import os, tempfile
        >>> import symgraph.backend as K
        >>> path = os.path.join(tempfile.mkdtemp(), "graph.dot")
        >>> render(K.exp(K.placeholder((2,))), path) == path
        True
    """
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    fmt = (format or suffix.lstrip(".")).lower()
    if not fmt:
        raise ValueError(f"cannot tell the format of {path!r}: give format= or a suffix "
                         "such as .dot, .svg or .png")
    if not re.fullmatch(r"[a-z0-9_]+(:[a-z0-9_]+)*", fmt):
        raise ValueError(f"not a Graphviz output format: {fmt!r}")
    text = to_dot(x, compiled=compiled)
    if fmt in ("dot", "gv"):
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError(
            f"writing {fmt} needs Graphviz's `dot` program, which is not on PATH; install "
            "Graphviz (e.g. `apt-get install graphviz`, `brew install graphviz`, `conda "
            "install graphviz`), or write DOT text instead: render(x, 'graph.dot') or "
            "symgraph.inspect.export.to_dot(x); to_svg(x) draws without Graphviz; "
            f"{docs_hint('inspecting', 'exports')}")
    try:
        done = subprocess.run([dot, f"-T{fmt}", "-o", path], input=text.encode("utf-8"),
                              capture_output=True, timeout=_RENDER_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"`dot -T{fmt}` did not finish within {_RENDER_TIMEOUT_S} s "
                           f"(a very large graph?); write DOT text instead") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"`dot -T{fmt}` failed (exit status {done.returncode}): {message}")
    return path


