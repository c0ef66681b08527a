"""CTC decoding: ``ctc_decode``, greedy and beam search (TF 2.2 ``K.ctc_decode``).

One op produces one float64 array ``(top_paths, batch, time + 1)``: columns ``[:time]``
hold the decoded labels padded with -1 (exact: labels are small ints), column ``time``
the path's score; the backend slices and casts it into TF's outputs, so the search runs
once however many outputs are evaluated. Inputs are ``x = log(y_pred + eps)``.

* greedy: best class per step (first on ties), merge repeats, drop blanks; the score is
  ``-sum(max x)`` over the sequence (positive, as TF's).
* beam: TF's ``CTCBeamSearchDecoder``: each step is normalised with a log-softmax; a trie
  of prefixes outlives the steps; the beams are updated first (a beam's parent counts
  only while it is in the beam), then each beam, best first, offers its children one at
  a time against the lowest leaf, evicting it when the beam is full; a refused entry
  loses both its probabilities. ``merge_repeated`` collapses repeats of the final
  label sequence. Scores are log probabilities (negative), best first.
"""

from __future__ import annotations

import numpy as np

from .ctc import _PRELUDE, _float_dtype, _int_dtype, _lengths, _log_inputs, _module, _same
from .registry import KERNEL, NOT_DIFFERENTIABLE, Op, register

_DECODE_SOURCE = _PRELUDE + '''
@njit('void(float64[:, :, ::1], int64[::1], float64[:, :, ::1])',
      cache=CACHE, nogil=True, error_model='numpy')
def greedy_decode(x, in_len, out):
    n_batch, n_time, n_class = x.shape
    blank = n_class - 1
    for b in range(n_batch):
        for j in range(n_time):
            out[0, b, j] = -1.0
        prev = -1
        k = 0
        score = 0.0
        for t in range(in_len[b]):
            best = 0
            value = x[b, t, 0]
            for c in range(1, n_class):
                if x[b, t, c] > value:
                    best = c
                    value = x[b, t, c]
            score -= value
            if best != blank and best != prev:
                out[0, b, k] = best
                k += 1
            prev = best
        out[0, b, n_time] = score


@njit(cache=CACHE, nogil=True)
def _grown(a, size):
    out = np.empty(size, dtype=a.dtype)
    out[:a.shape[0]] = a
    return out


@njit(cache=CACHE, nogil=True)
def _offered(total, n_leaves, width, leaves, nt):
    # TF's candidate test: a score above -inf that fits, or beats the lowest leaf
    if not total > NEG_INF:
        return False
    if n_leaves < width:
        return True
    low = nt[leaves[0]]
    for q in range(1, n_leaves):
        if nt[leaves[q]] < low:
            low = nt[leaves[q]]
    return total > low


@njit('void(float64[:, :, ::1], int64[::1], int64, boolean, float64[:, :, ::1], int64[::1])',
      cache=CACHE, nogil=True, error_model='numpy')
def beam_decode(x, in_len, width, merge_repeated, out, n_beams):
    # TF's CTCBeamSearchDecoder: a trie of prefixes that outlives the steps; each step
    # first updates the beams themselves (a beam's parent counts only while it is in
    # the beam), then offers each beam's children to a bounded set of leaves in order
    # of the beams' scores, evicting the lowest leaf when full.
    n_batch, n_time, n_class = x.shape
    blank = n_class - 1
    n_labels = n_class - 1
    top_paths = out.shape[0]
    cap = 1 + width * max(n_labels, 1)
    parent = np.empty(cap, dtype=np.int64)
    label = np.empty(cap, dtype=np.int64)
    first_kid = np.empty(cap, dtype=np.int64)
    next_sib = np.empty(cap, dtype=np.int64)
    ob = np.empty(cap)   # old (previous step) log P: ends in blank, in label, total
    ol = np.empty(cap)
    ot = np.empty(cap)
    nb = np.empty(cap)   # new (this step) log P
    nl = np.empty(cap)
    nt = np.empty(cap)   # NEG_INF: not in the beam
    leaves = np.empty(width, dtype=np.int64)
    branches = np.empty(width, dtype=np.int64)
    scores = np.empty(width)
    kid = np.empty(max(n_labels, 1), dtype=np.int64)
    for b in range(n_batch):
        parent[0] = -1
        label[0] = -1
        first_kid[0] = -1
        next_sib[0] = -1
        nb[0] = 0.0
        nl[0] = NEG_INF
        nt[0] = 0.0
        n_nodes = 1
        leaves[0] = 0
        n_leaves = 1
        for t in range(in_len[b]):
            norm = _log_norm(x, b, t)  # TF normalises each step: x - norm is log-softmax
            for r in range(n_leaves):
                scores[r] = -nt[leaves[r]]
            order = np.argsort(scores[:n_leaves], kind='mergesort')
            n_br = n_leaves
            for r in range(n_br):
                e = leaves[order[r]]
                branches[r] = e
                ob[e] = nb[e]
                ol[e] = nl[e]
                ot[e] = nt[e]
            n_leaves = 0
            for r in range(n_br):
                e = branches[r]
                p = parent[e]
                if p >= 0:
                    if nt[p] > NEG_INF:
                        previous = ob[p] if label[e] == label[p] else ot[p]
                        nl[e] = _lse(nl[e], previous)
                    nl[e] += x[b, t, label[e]] - norm
                nb[e] = ot[e] + x[b, t, blank] - norm
                nt[e] = _lse(nb[e], nl[e])
                leaves[n_leaves] = e
                n_leaves += 1
            for r in range(n_br):
                e = branches[r]
                if not _offered(ot[e], n_leaves, width, leaves, nt):
                    continue
                for c in range(n_labels):
                    kid[c] = -1
                k = first_kid[e]
                while k >= 0:
                    kid[label[k]] = k
                    k = next_sib[k]
                for c in range(n_labels):
                    k = kid[c]
                    if k < 0:
                        if n_nodes == parent.shape[0]:
                            size = 2 * n_nodes
                            parent = _grown(parent, size)
                            label = _grown(label, size)
                            first_kid = _grown(first_kid, size)
                            next_sib = _grown(next_sib, size)
                            ob = _grown(ob, size)
                            ol = _grown(ol, size)
                            ot = _grown(ot, size)
                            nb = _grown(nb, size)
                            nl = _grown(nl, size)
                            nt = _grown(nt, size)
                        k = n_nodes
                        n_nodes += 1
                        parent[k] = e
                        label[k] = c
                        first_kid[k] = -1
                        next_sib[k] = first_kid[e]
                        first_kid[e] = k
                        nt[k] = NEG_INF
                    if nt[k] > NEG_INF:
                        continue  # already a beam: its update above counted this parent
                    previous = ob[e] if c == label[e] else ot[e]
                    nb[k] = NEG_INF
                    nl[k] = x[b, t, c] - norm + previous
                    nt[k] = nl[k]
                    if _offered(nt[k], n_leaves, width, leaves, nt):
                        if n_leaves == width:
                            low = 0
                            for q in range(1, n_leaves):
                                if nt[leaves[q]] < nt[leaves[low]]:
                                    low = q
                            nb[leaves[low]] = NEG_INF
                            nl[leaves[low]] = NEG_INF
                            nt[leaves[low]] = NEG_INF
                            leaves[low] = k
                        else:
                            leaves[n_leaves] = k
                            n_leaves += 1
                    else:
                        # refused: TF resets both its probabilities, so a beam refused
                        # as a child this step (after an eviction) offers no children
                        ob[k] = NEG_INF
                        ol[k] = NEG_INF
                        ot[k] = NEG_INF
                        nb[k] = NEG_INF
                        nl[k] = NEG_INF
                        nt[k] = NEG_INF
        n_beams[b] = n_leaves
        for r in range(n_leaves):
            scores[r] = -nt[leaves[r]]
        order = np.argsort(scores[:n_leaves], kind='mergesort')
        for p in range(min(top_paths, n_leaves)):
            e = leaves[order[p]]
            for q in range(n_time):
                out[p, b, q] = -1.0
            length = 0
            k = e
            while parent[k] >= 0:
                length += 1
                k = parent[k]
            k = e
            for q in range(length - 1, -1, -1):
                out[p, b, q] = label[k]
                k = parent[k]
            if merge_repeated:
                kept = 0
                for q in range(length):
                    if q == 0 or out[p, b, q] != out[p, b, q - 1]:
                        out[p, b, kept] = out[p, b, q]
                        kept += 1
                for q in range(kept, length):
                    out[p, b, q] = -1.0
            out[p, b, n_time] = nt[e]
'''


# -- ctc_decode ----------------------------------------------------------------------
def _decode_infer(in_shapes, in_dtypes, attrs):
    pred, in_len = in_shapes
    if pred is None or len(pred) != 3:
        raise ValueError("y_pred must have rank 3 (batch, time, classes)")
    if in_len is None or len(in_len) != 1:
        raise ValueError("input_length must have rank 1 (batch,)")
    _same(pred[0], in_len[0], "batch sizes differ: {} vs {}")
    _float_dtype(in_dtypes[0], "y_pred")
    _int_dtype(in_dtypes[1], "input_length")
    if pred[2] is not None and pred[2] < 1:
        raise ValueError("y_pred needs at least one class (the blank)")
    batch = pred[0] if pred[0] is not None else in_len[0]
    width = None if pred[1] is None else pred[1] + 1
    return (attrs["top_paths"], batch, width), "float64"


def _decode_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    pred, in_len = args
    in_len = _lengths(in_len, pred.shape[1], "input_length", "the time steps of y_pred")
    x = _log_inputs(pred, attrs["eps"])
    out = np.empty(out_shape, dtype=np.float64)
    if pred.shape[0] == 0:
        return out
    if attrs["greedy"]:
        _module(_DECODE_SOURCE).greedy_decode(x, in_len, out)
        return out
    n_beams = np.zeros(pred.shape[0], dtype=np.int64)
    _module(_DECODE_SOURCE).beam_decode(x, in_len, attrs["beam_width"],
                                        attrs["merge_repeated"], out, n_beams)
    _check_beams(n_beams, attrs["top_paths"])
    return out


def _check_beams(n_beams, top_paths):
    short = np.nonzero(np.asarray(n_beams) < top_paths)[0]
    if len(short):
        b = int(short[0])
        raise ValueError(f"beam search of sequence {b} ended with {int(n_beams[b])} beams, "
                         f"fewer than top_paths={top_paths} (TF: 'Less leaves in the beam "
                         "search than requested')")


def _decode_reference(arrays, attrs, out_shape, out_dtype):
    pred, in_len = arrays
    in_len = _lengths(in_len, pred.shape[1], "input_length", "the time steps of y_pred")
    x = _log_inputs(pred, attrs["eps"])
    n_batch, n_time, n_class = x.shape
    blank = n_class - 1
    out = np.full(out_shape, -1.0)
    n_beams = []
    for b in range(n_batch):
        steps = x[b, :in_len[b]]
        if attrs["greedy"]:
            best = np.argmax(steps, axis=1) if len(steps) else np.zeros(0, dtype=int)
            seq = [int(c) for k, c in enumerate(best)
                   if c != blank and (k == 0 or c != best[k - 1])]
            results = [(seq, -float(np.sum(np.max(steps, axis=1))) if len(steps) else 0.0)]
        else:
            norm = np.logaddexp.reduce(steps, axis=1, keepdims=True) if len(steps) else 0.0
            results = _reference_beam(steps - norm, blank, attrs["beam_width"])
            n_beams.append(len(results))
            results = [(_merge(seq) if attrs["merge_repeated"] else list(seq), score)
                       for seq, score in results]
        for p, (seq, score) in enumerate(results[:attrs["top_paths"]]):
            out[p, b, :len(seq)] = seq
            out[p, b, n_time] = score
    if not attrs["greedy"]:
        _check_beams(n_beams, attrs["top_paths"])
    return out


def _merge(seq):
    return [c for k, c in enumerate(seq) if k == 0 or c != seq[k - 1]]


class _Prefix:
    """A node of the reference beam search's trie (TF keeps its prefixes the same way)."""

    def __init__(self, parent, label):
        self.parent, self.label, self.children = parent, label, {}
        self.old = self.new = (-np.inf, -np.inf, -np.inf)  # log P blank, label, total

    def labels(self) -> list:
        out, node = [], self
        while node.parent is not None:
            out.append(node.label)
            node = node.parent
        return out[::-1]


def _reference_beam(steps, blank, width):
    """TF's beam search in plain Python (see ``beam_decode``): ``steps`` are
    log-softmax rows; returns ``[(labels, log P)]``, best first."""
    root = _Prefix(None, -1)
    root.new = (0.0, -np.inf, 0.0)
    leaves = [root]

    def offered(total):
        return total > -np.inf and (len(leaves) < width or
                                    total > min(e.new[2] for e in leaves))

    for row in steps:
        branches = sorted(leaves, key=lambda e: -e.new[2])
        for e in branches:
            e.old = e.new
        leaves = []
        for e in branches:
            label = -np.inf
            if e.parent is not None:
                label = e.old[1]
                if e.parent.new[2] > -np.inf:
                    pb, _, pt = e.parent.old
                    label = np.logaddexp(label, pb if e.label == e.parent.label else pt)
                label += row[e.label]
            blank_p = e.old[2] + row[blank]
            e.new = (blank_p, label, np.logaddexp(blank_p, label))
            leaves.append(e)
        for e in branches:
            if not offered(e.old[2]):
                continue
            for c in range(len(row) - 1):
                child = e.children.setdefault(c, _Prefix(e, c))
                if child.new[2] > -np.inf:
                    continue
                score = row[c] + (e.old[0] if c == e.label else e.old[2])
                child.new = (-np.inf, score, score)
                if offered(score):
                    if len(leaves) == width:
                        low = min(leaves, key=lambda n: n.new[2])
                        low.new = (-np.inf, -np.inf, -np.inf)
                        leaves.remove(low)
                    leaves.append(child)
                else:
                    child.old = child.new = (-np.inf, -np.inf, -np.inf)
    ranked = sorted(leaves, key=lambda e: -e.new[2])
    return [(e.labels(), float(e.new[2])) for e in ranked]


CTC_DECODE = register(Op(
    "ctc_decode", KERNEL, _decode_infer, _decode_reference, kernel=_decode_kernel,
    grad=NOT_DIFFERENTIABLE,
    doc="greedy or prefix-beam CTC decoding, packed (top_paths, batch, time + 1): "
        "labels padded with -1, then the score"))
