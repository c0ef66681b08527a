"""``to_svg(x)``: a picture of a graph, laid out in Python (no Graphviz, no browser).

Nodes are boxes coloured by op family, with their name, op, shape and dtype; edges
are curves from each input to its consumer (dashed where only the shape is read),
labelled with the shape they carry; top-level name scopes are framed and labelled;
with ``compiled=True`` the graph after the compiler's passes is drawn and the nodes
of each fused kernel sit on one shaded band labelled with the kernel's name.
"""

from __future__ import annotations

import html
from pathlib import Path

from .export import COLOURS as FILLS
from .layout import layered_layout


def _darker(colour: str, factor: float = 0.55) -> str:
    """``colour`` (#rrggbb) darkened, for borders that match a fill."""
    rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    if min(rgb) > 240:  # white and near-white fills get a neutral grey border
        return "#98a2b3"
    return "#" + "".join(f"{int(c * factor):02x}" for c in rgb)


#: op family -> (fill, border): the fills of the DOT, Model Explorer and HTML views
#: (``export.COLOURS``), each with a darker border of its own hue
COLOURS = {fam: (fill, _darker(fill)) for fam, fill in FILLS.items()}
SCOPE_SHADES = ("#e6ebf3", "#f2eadb")
KERNEL_SHADES = ("#fde68a", "#bfdbfe", "#bbf7d0", "#fbcfe8", "#ddd6fe", "#fed7aa")
_CHAR = 6.6  # width of a label character at 11px (monospace-ish estimate)
_NAME_MAX = 30
EDGE_LABELS_UP_TO = 300  #: graphs with more nodes get no edge labels (clutter)


def family(node) -> str:
    """The colour family of a node: its leaf kind, or its op kind (as in every view)."""
    return node.op.name if node.op.kind == "leaf" else node.op.kind


def _short(text: str, limit: int = _NAME_MAX) -> str:
    return text if len(text) <= limit else "…" + text[-(limit - 1):]


def _shape(shape) -> str:
    from ..core.shapes import shape_str

    return shape_str(shape)


def drawn_nodes(x, compiled: bool = False):
    """``(nodes, outputs, kernel_of)`` of what ``to_svg`` draws."""
    from ..core.graph import ancestors
    from .tables import compile_view
    from .view import graph_view, plan_kernels

    view = graph_view(x)
    if not compiled:
        return ancestors(view.targets), view.outputs, {}
    fn = view.function or compile_view(view)
    if fn is None:
        raise ValueError("to_svg(compiled=True): these outputs do not compile (a "
                         "placeholder they need has no value)")
    kernels = plan_kernels(fn.plan)
    targets = fn.plan.outputs[:len(fn.outputs)]
    return ancestors(fn.plan.outputs), targets, {m.id: k for k in kernels for m in k.members}


def to_svg(x, path=None, *, compiled: bool = False, direction: str = "TB",
           title: str | None = None) -> str:
    """Draw ``x`` as SVG.

    Args:
        x: a tensor, a list of tensors, a compiled Function or a graph file path.
        path: also write the SVG there.
        compiled: draw the graph after the compiler's passes, fused kernels shaded.
        direction: ``'TB'`` (top to bottom) or ``'LR'`` (left to right).
        title: a caption (default: none).

    Returns:
        The SVG document (text).

    Example:
        >>> import symgraph.backend as K
        >>> x = K.placeholder((None, 3), name="x")
        >>> svg = to_svg(K.relu(x) * 2.0)
        >>> svg.startswith("<svg") and svg.count('class="node"')  # x, 0, relu, 2, *
        5
    """
    nodes, outputs, kernel_of = drawn_nodes(x, compiled)
    output_ids = {t.id for t in outputs}
    keys, by_key, edges = _items(nodes, output_ids)
    sizes, labels = {}, {}
    for key in keys:
        n = by_key[key]
        top = _short(n.name)
        bottom = f"{n.op.name} {_shape(n.shape)} {n.dtype}"
        labels[key] = (top, bottom)
        sizes[key] = (max(len(top), len(bottom)) * _CHAR + 18, 36.0)
    scope = {k: by_key[k].name.split("/")[0] if "/" in by_key[k].name else None
             for k in keys}
    groups = {k: (kernel_of[k].name if k in kernel_of else scope[k]) for k in keys}
    lay = layered_layout(keys, sizes, edges, groups, direction,
                         pinned=[k for k in keys if by_key[k].op.name == "placeholder"])
    margin, legend_h = 16.0, 40.0 + (18.0 if title else 0.0)
    ox, oy = margin, margin + legend_h
    legend_w = sum(35 + len(f) * _CHAR for f in dict.fromkeys(family(n) for n in nodes))
    width = max(lay.width, legend_w, len(title or "") * 8.0) + 2 * margin
    height = lay.height + 2 * margin + legend_h
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
           f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
           'font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="11">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
           'fill="#6b7280"/></marker></defs>',
           f'<rect width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>']
    if title:
        out.append(f'<text x="{margin}" y="{margin + 10}" font-size="13" font-weight="bold">'
                   f'{html.escape(title)}</text>')
    out += _legend(margin, margin + (18.0 if title else 0.0), nodes)
    out += _scopes(lay, scope, ox, oy, direction)
    out += _kernel_bands(lay, kernel_of, ox, oy)
    show_labels = len(nodes) <= EDGE_LABELS_UP_TO
    for (s, t, i), pts in lay.edges.items():
        data = by_key[t].op.reads_data(i)
        pts = [(px + ox, py + oy) for px, py in pts]
        dash = "" if data else ' stroke-dasharray="4 3"'
        out.append(f'<path class="edge" d="{_curve(pts, direction)}" fill="none" '
                   f'stroke="#6b7280" stroke-width="1.2"{dash} marker-end="url(#arrow)"/>')
        if show_labels:
            mx, my = pts[len(pts) // 2] if len(pts) > 2 else (
                (pts[0][0] + pts[-1][0]) / 2, (pts[0][1] + pts[-1][1]) / 2)
            out.append(f'<text class="edge-label" x="{mx + 4:.1f}" y="{my:.1f}" '
                       f'fill="#6b7280" font-size="9">{html.escape(_shape(by_key[s].shape))}'
                       '</text>')
    for key in keys:
        n = by_key[key]
        bx, by, bw, bh = lay.boxes[key]
        fill, stroke = COLOURS.get(family(n), COLOURS["kernel"])
        width_px = 2.4 if key in output_ids else 1.2
        top, bottom = labels[key]
        where = f" ({n.location[0]}:{n.location[1]})" if n.location else ""
        out.append(
            f'<g class="node" data-name="{html.escape(n.name)}" data-op="{n.op.name}">'
            f'<title>{html.escape(n.name + where)}</title>'
            f'<rect x="{bx + ox:.1f}" y="{by + oy:.1f}" width="{bw:.1f}" height="{bh:.1f}" '
            f'rx="6" fill="{fill}" stroke="{stroke}" stroke-width="{width_px}"/>'
            f'<text x="{bx + ox + bw / 2:.1f}" y="{by + oy + 14:.1f}" text-anchor="middle" '
            f'font-weight="bold">{html.escape(top)}</text>'
            f'<text x="{bx + ox + bw / 2:.1f}" y="{by + oy + 28:.1f}" text-anchor="middle" '
            f'fill="#374151" font-size="10">{html.escape(bottom)}</text></g>')
    out.append("</svg>")
    text = "\n".join(out)
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def _items(nodes, output_ids) -> tuple[list, dict, list]:
    """What is drawn: ``(keys in topological order, key -> node, edges)``. A 0-d
    constant is drawn once per reader (key ``(id, reader id, index)``), next to it, as
    Netron inlines them: one ``1.0`` read by every layer would otherwise pull an edge
    through the whole drawing."""
    ghost = {n.id for n in nodes if n.op.name == "constant" and n.shape == () and
             n.id not in output_ids}
    ids = {n.id for n in nodes}
    keys, by_key, edges = [], {}, []
    for n in nodes:
        if n.id in ghost:
            continue
        for i, src in enumerate(n.inputs):
            if src.id in ghost:
                key = (src.id, n.id, i)
                keys.append(key)
                by_key[key] = src
                edges.append((key, n.id, i))
            elif src.id in ids:
                edges.append((src.id, n.id, i))
        keys.append(n.id)
        by_key[n.id] = n
    return keys, by_key, edges


def _curve(pts, direction: str) -> str:
    """A smooth path through ``pts``: cubic Béziers whose control points follow the
    layer direction, so edges leave and enter nodes straight."""
    d = [f"M{pts[0][0]:.1f},{pts[0][1]:.1f}"]
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if direction == "TB":
            my = (y0 + y1) / 2
            d.append(f"C{x0:.1f},{my:.1f} {x1:.1f},{my:.1f} {x1:.1f},{y1:.1f}")
        else:
            mx = (x0 + x1) / 2
            d.append(f"C{mx:.1f},{y0:.1f} {mx:.1f},{y1:.1f} {x1:.1f},{y1:.1f}")
    return " ".join(d)


def _legend(x: float, y: float, nodes) -> list:
    present = list(dict.fromkeys(family(n) for n in nodes))
    out, cx = [], x
    for fam in present:
        fill, stroke = COLOURS.get(fam, COLOURS["kernel"])
        out.append(f'<rect class="legend" x="{cx:.1f}" y="{y:.1f}" width="14" height="14" '
                   f'rx="3" fill="{fill}" stroke="{stroke}"/>'
                   f'<text x="{cx + 19:.1f}" y="{y + 11:.1f}" fill="#374151">{fam}</text>')
        cx += 19 + len(fam) * _CHAR + 16
    return out


def _bounds(boxes) -> tuple:
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    y1 = max(b[1] + b[3] for b in boxes)
    return x0, y0, x1, y1


def _scopes(lay, scope: dict, ox: float, oy: float, direction: str) -> list:
    """Each top-level name scope as a shaded region: one rectangle around its nodes in
    each layer, joined across the gaps between layers, so the region never covers a
    node of another scope in a layer they share (a bounding box would)."""
    layer_of = {k: i for i, row in enumerate(lay.layers) for k in row}
    spans: dict = {}
    for node_id, name in scope.items():
        if name is not None:
            spans.setdefault(name, {}).setdefault(layer_of[node_id], []).append(
                lay.boxes[node_id])
    tb = direction == "TB"
    out = []
    for name, layers in spans.items():
        pad = 7.0
        rects = {}
        for i, boxes in layers.items():
            x0, y0, x1, y1 = _bounds(boxes)
            rects[i] = (x0 - pad, y0 - pad, x1 + pad, y1 + pad)
        parts = [rects[i] for i in sorted(rects)]
        order = sorted(rects)
        for a, b in zip(order, order[1:]):
            if b != a + 1:
                continue
            ra, rb = rects[a], rects[b]
            if tb:  # the gap between two layers, as wide as both spans together
                parts.append((min(ra[0], rb[0]), ra[3], max(ra[2], rb[2]), rb[1]))
            else:
                parts.append((ra[2], min(ra[1], rb[1]), rb[0], max(ra[3], rb[3])))
        shapes = "".join(
            f'<rect x="{x0 + ox:.1f}" y="{y0 + oy:.1f}" width="{x1 - x0:.1f}" '
            f'height="{y1 - y0:.1f}" rx="3"/>' for x0, y0, x1, y1 in parts)
        # opaque, alternating shades: the parts of one scope merge into one region,
        # and neighbouring scopes stay apart
        shade = SCOPE_SHADES[len(out) % len(SCOPE_SHADES)]
        first = rects[order[0]]  # label at its top right: kernel labels sit top left
        out.append(f'<g class="scope" data-scope="{html.escape(name)}" fill="{shade}">{shapes}'
                   f'<text x="{first[2] + ox - 2:.1f}" y="{first[1] + oy - 3:.1f}" '
                   f'text-anchor="end" fill="#4b5563" font-style="italic">'
                   f'{html.escape(_short(name, 40))}</text></g>')
    return out


def _kernel_bands(lay, kernel_of: dict, ox: float, oy: float) -> list:
    members: dict = {}
    for node_id, k in kernel_of.items():
        if node_id in lay.boxes:
            members.setdefault(k.name, (k, []))[1].append(lay.boxes[node_id])
    out = []
    for name, (k, boxes) in members.items():
        shade = KERNEL_SHADES[k.index % len(KERNEL_SHADES)]
        for bx, by, bw, bh in boxes:  # a band per member: never over another node
            out.append(f'<rect class="kernel" data-kernel="{name}" x="{bx + ox - 6:.1f}" '
                       f'y="{by + oy - 6:.1f}" width="{bw + 12:.1f}" height="{bh + 12:.1f}" '
                       f'rx="9" fill="{shade}" fill-opacity="0.8"/>')
        x0, y0, _, _ = min(boxes, key=lambda b: (b[1], b[0]))  # on its first member
        out.append(f'<text class="kernel-label" x="{x0 + ox - 4:.1f}" y="{y0 + oy - 9:.1f}" '
                   f'fill="#92400e" font-size="10" font-weight="bold">{name} {k.kind}</text>')
    return out
