"""A layered graph layout in plain Python (the Sugiyama scheme, kept small).

1. Layers: each node one layer after the deepest of its inputs (longest path).
2. Edges that skip layers get a dummy point per skipped layer, so they are routed
   around the nodes in between and count in the crossing reduction.
3. Order within layers: start from creation order, then sweeps down and up that sort
   each layer by the mean position of its neighbours in the previous layer
   (barycenters), keeping the nodes of one group (a name scope) next to each other.
4. Coordinates: nodes placed at their neighbours' mean, then pushed apart so that no
   two overlap, and each layer centred.

The result is positions only; :mod:`symgraph.inspect.svg` draws them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GAP = 24.0  #: space between nodes of one layer
LAYER_GAP = 56.0  #: space between layers
SWEEPS = 4


@dataclass
class Layout:
    """Where everything goes.

    Attributes:
        boxes: node key -> ``(x, y, width, height)`` (top-left corner).
        edges: ``(source key, target key, index)`` -> the polyline points from the
            source's side to the target's side (through dummy points).
        width, height: the drawing's size.
    """

    boxes: dict
    edges: dict
    width: float
    height: float
    layers: list = field(default_factory=list)


def layered_layout(nodes: list, sizes: dict, edges: list, groups: dict | None = None,
                   direction: str = "TB", pinned=()) -> Layout:
    """Lay out a DAG.

    Args:
        nodes: node keys, in a topological order (creation order).
        sizes: key -> ``(width, height)``.
        edges: ``(source, target, index)`` triples between keys of ``nodes``.
        groups: key -> a group label; nodes of one group stay adjacent in their layer.
        direction: ``'TB'`` (top to bottom) or ``'LR'`` (left to right).
        pinned: sources that stay in the first layer (the graph's inputs); other
            sources sit one layer above their first reader.

    Returns:
        A :class:`Layout`.

    Example:
        >>> lay = layered_layout(["a", "b", "c"], {k: (40, 20) for k in "abc"},
        ...                      [("a", "b", 0), ("a", "c", 1), ("b", "c", 0)])
        >>> [round(lay.boxes[k][1]) for k in "abc"]
        [0, 76, 152]
    """
    if direction not in ("TB", "LR"):
        raise ValueError(f"direction must be 'TB' or 'LR', got {direction!r}")
    pinned = set(pinned)
    groups = dict(groups or {})  # dummies join their source's group: a copy
    preds: dict = {n: [] for n in nodes}
    for s, t, _ in edges:
        preds[t].append(s)
    layer = {}
    for n in nodes:  # topological order: inputs come first
        layer[n] = 1 + max((layer[p] for p in preds[n]), default=-1)
    # what does not depend on a pinned node (weights, constants and what is computed
    # from them alone, like a reshaped bias) goes just above its first reader instead
    # of in the top layers, so its edges stay short
    succs: dict = {n: [] for n in nodes}
    for s, t, _ in edges:
        succs[s].append(t)
    floating = {}
    for n in nodes:
        floating[n] = n not in pinned and all(floating[p] for p in preds[n])
    for n in reversed(nodes):
        if floating[n] and succs[n]:
            layer[n] = max(layer[n], min(layer[t] for t in succs[n]) - 1)
    # dummy points for edges that skip layers
    chains: dict = {}
    order_keys: list = list(nodes)
    vsize = {n: sizes[n] for n in nodes}
    links: list = []  # consecutive-layer links, for ordering and placement
    for s, t, i in edges:
        chain = [s]
        for k in range(layer[s] + 1, layer[t]):
            dummy = ("__dummy__", s, t, i, k)
            layer[dummy] = k
            vsize[dummy] = (2.0, 2.0)
            groups.setdefault(dummy, groups.get(s))
            order_keys.append(dummy)
            chain.append(dummy)
        chain.append(t)
        chains[(s, t, i)] = chain
        links += list(zip(chain, chain[1:]))
    n_layers = 1 + max(layer.values(), default=0)
    rows: list[list] = [[] for _ in range(n_layers)]
    for key in order_keys:
        rows[layer[key]].append(key)
    up: dict = {k: [] for k in order_keys}
    down: dict = {k: [] for k in order_keys}
    for a, b in links:
        down[a].append(b)
        up[b].append(a)
    _order(rows, up, down, groups)
    main = 1 if direction == "TB" else 0  # the axis layers advance along
    across = 1 - main
    pos = _place(rows, up, down, vsize, across)
    boxes, offset, layer_span = {}, 0.0, []
    for row in rows:
        depth = max((vsize[k][main] for k in row), default=0.0)
        layer_span.append((offset, depth))
        for k in row:
            w, h = vsize[k]
            start = offset + (depth - vsize[k][main]) / 2
            if direction == "TB":
                boxes[k] = (pos[k] - w / 2, start, w, h)
            else:
                boxes[k] = (start, pos[k] - h / 2, w, h)
        offset += depth + LAYER_GAP
    extent = max((b[across] + b[2 + across] for b in boxes.values()), default=0.0)
    lowest = min((b[across] for b in boxes.values()), default=0.0)
    shift = -lowest
    for k, (x, y, w, h) in list(boxes.items()):
        boxes[k] = (x + shift, y, w, h) if direction == "TB" else (x, y + shift, w, h)
    routes = {key: _route(chain, boxes, direction) for key, chain in chains.items()}
    real = {k: boxes[k] for k in nodes}
    size_main = offset - LAYER_GAP if rows else 0.0
    width, height = (extent - lowest, size_main) if direction == "TB" else \
        (size_main, extent - lowest)
    return Layout(real, routes, width, height, [[k for k in r if k in real] for r in rows])


def _order(rows, up, down, groups) -> None:
    """Barycenter sweeps, keeping each group's nodes together within a layer."""
    index = {k: i for row in rows for i, k in enumerate(row)}

    def sort(row, neighbours):
        def bary(k):
            ns = neighbours[k]
            return sum(index[n] for n in ns) / len(ns) if ns else index[k]

        values = {k: bary(k) for k in row}
        by_group: dict = {}
        for k in row:
            by_group.setdefault(groups.get(k), []).append(k)
        group_value = {g: sum(values[k] for k in ks) / len(ks) for g, ks in by_group.items()}
        row.sort(key=lambda k: (group_value[groups.get(k)], values[k]))
        for i, k in enumerate(row):
            index[k] = i

    for _ in range(SWEEPS):
        for row in rows[1:]:
            sort(row, up)
        for row in reversed(rows[:-1]):
            sort(row, down)


def _place(rows, up, down, size, axis) -> dict:
    """Positions across the layers: each node at the mean of its neighbours, then
    overlaps pushed apart in order, a few rounds down and up."""
    pos: dict = {}
    for row in rows:
        x = 0.0
        for k in row:
            pos[k] = x + size[k][axis] / 2
            x += size[k][axis] + GAP
    for _ in range(3):
        for sweep, neighbours in ((rows[1:], up), (list(reversed(rows[:-1])), down)):
            for row in sweep:
                want = {k: (sum(pos[n] for n in neighbours[k]) / len(neighbours[k])
                            if neighbours[k] else pos[k]) for k in row}
                _spread(row, want, size, axis, pos)
    return pos


def _spread(row, want, size, axis, pos) -> None:
    """Place ``row`` (in order) as near ``want`` as possible without overlaps: a left
    pass pushing right, then a right pass pulling back toward the wanted spots."""
    x = None
    for k in row:
        half = size[k][axis] / 2
        p = want[k] if x is None else max(want[k], x + half)
        pos[k] = p
        x = p + half + GAP
    nxt = None
    for k in reversed(row):
        half = size[k][axis] / 2
        if nxt is not None and pos[k] + half + GAP > nxt:
            pos[k] = nxt - half - GAP
        nxt = pos[k] - half


def _route(chain, boxes, direction) -> list:
    """Points of an edge: out of the source's far side, through its dummy points, into
    the target's near side."""
    pts = []
    for j, k in enumerate(chain):
        x, y, w, h = boxes[k]
        if direction == "TB":
            pts.append((x + w / 2, y + h if j == 0 else y if j == len(chain) - 1 else y + h / 2))
        else:
            pts.append((x + w if j == 0 else x if j == len(chain) - 1 else x + w / 2, y + h / 2))
    return pts
