"""CTC loss, decoding and the Theano CTC helpers against NumPy references written here:
brute-force enumeration of all alignments for tiny T, a plain-python log-space forward
pass, greedy decoding by hand, and exact prefix scores for beam search."""

import itertools
import math

import numpy as np
import pytest

import symgraph.backend as K
from symgraph.backend._ctc import (
    ctc_batch_cost,
    ctc_cost,
    ctc_create_skip_idxs,
    ctc_decode,
    ctc_interleave_blanks,
    ctc_path_probs,
    ctc_update_log_p,
)
from symgraph.errors import ShapeError
from tests.helpers import assert_close, run_both

EPS = 1e-7


def _log_steps(probs):
    """What TF feeds its CTC ops: log(p + eps) in the input's dtype, then float64."""
    probs = np.asarray(probs)
    return np.log(probs + probs.dtype.type(EPS)).astype(np.float64)


def _collapse(path, blank):
    out = []
    for k, c in enumerate(path):
        if c != blank and (k == 0 or c != path[k - 1]):
            out.append(int(c))
    return tuple(out)


def brute_force_loss(probs, label, blank):
    """-log sum over every alignment (C**T of them) that collapses to ``label``."""
    x = _log_steps(probs)
    steps = np.exp(x - x.max(axis=1, keepdims=True))
    steps = steps / steps.sum(axis=1, keepdims=True)  # TF's ctc_loss softmaxes its inputs
    total = 0.0
    for path in itertools.product(range(steps.shape[1]), repeat=len(steps)):
        if _collapse(path, blank) == tuple(label):
            total += math.prod(steps[t, c] for t, c in enumerate(path))
    return -math.log(total) if total > 0 else math.inf


def forward_loss(probs, label, blank):
    """Plain-python forward algorithm in log space."""
    x = _log_steps(probs)
    if len(x) == 0:
        return 0.0 if len(label) == 0 else math.inf
    logp = [[v - np.logaddexp.reduce(row) for v in row] for row in x]
    ext = [blank]
    for c in label:
        ext += [c, blank]

    def lse(values):
        values = [v for v in values if v != -math.inf]
        if not values:
            return -math.inf
        m = max(values)
        return m + math.log(sum(math.exp(v - m) for v in values))

    alpha = [-math.inf] * len(ext)
    alpha[0] = logp[0][blank]
    if len(ext) > 1:
        alpha[1] = logp[0][ext[1]]
    for t in range(1, len(x)):
        new = []
        for s in range(len(ext)):
            terms = [alpha[s]]
            if s > 0:
                terms.append(alpha[s - 1])
            if s > 1 and ext[s] != blank and ext[s] != ext[s - 2]:
                terms.append(alpha[s - 2])
            new.append(lse(terms) + logp[t][ext[s]])
        alpha = new
    return -lse(alpha[-2:])


def exact_prefix_scores(probs, blank):
    """Every labeling's beam score: its log probability, the log sum over its alignments
    of prod softmax(x) (TF's beam search normalises each step)."""
    x = _log_steps(probs)
    x = x - np.logaddexp.reduce(x, axis=1, keepdims=True)
    scores = {}
    for path in itertools.product(range(x.shape[1]), repeat=len(x)):
        s = sum(x[t, c] for t, c in enumerate(path))
        key = _collapse(path, blank)
        scores[key] = np.logaddexp(scores.get(key, -np.inf), s)
    return sorted(scores.items(), key=lambda kv: -kv[1])


def _random_probs(rng, shape, dtype="float32"):
    p = rng.random(shape) + 0.05
    return (p / p.sum(axis=-1, keepdims=True)).astype(dtype)


def _loss_fn(dtype="float32"):
    y_true = K.placeholder((None, None), dtype="int32")
    y_pred = K.placeholder((None, None, None), dtype=dtype)
    in_len = K.placeholder((None, 1), dtype="int32")
    lab_len = K.placeholder((None, 1), dtype="int32")
    loss = ctc_batch_cost(y_true, y_pred, in_len, lab_len)
    assert K.int_shape(loss) == (None, 1) and loss.dtype == dtype
    return K.function([y_true, y_pred, in_len, lab_len], [loss])


# -- ctc_batch_cost ----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_loss_matches_brute_force(dtype):
    rng = np.random.default_rng(0)
    n_class, n_time = 3, 4  # labels 0, 1; blank 2
    cases = [([0, 1], 4), ([1], 4), ([], 4), ([0, 0], 4), ([1, 1], 3), ([0, 1], 2),
             ([1, 0, 1], 4), ([0, 0], 2), ([1], 0), ([], 0), ([0, 0, 1], 4)]
    labels = np.full((len(cases), 3), 7, dtype=np.int32)  # padding past lengths is ignored
    for b, (lab, _) in enumerate(cases):
        labels[b, :len(lab)] = lab
    probs = _random_probs(rng, (len(cases), n_time, n_class), dtype)
    in_len = np.array([[t] for _, t in cases])
    lab_len = np.array([[len(lab)] for lab, _ in cases])
    got = _loss_fn(dtype)([labels, probs, in_len, lab_len])[0]
    expected = [brute_force_loss(probs[b, :t], lab, n_class - 1)
                for b, (lab, t) in enumerate(cases)]
    assert np.isinf(expected[7]) and np.isinf(expected[8])  # impossible alignments
    assert_close(got, np.array(expected, dtype=dtype).reshape(-1, 1), dtype=dtype,
                 rtol=1e-5 if dtype == "float32" else 1e-10)


def test_loss_matches_forward_pass_and_reference_interpreter():
    rng = np.random.default_rng(1)
    n_batch, n_time, n_class, width = 4, 12, 5, 6
    probs = _random_probs(rng, (n_batch, n_time, n_class), "float64")
    labels = rng.integers(0, n_class - 1, size=(n_batch, width)).astype(np.int32)
    labels[1, :3] = [2, 2, 2]  # repeats need blanks between them
    in_len = np.array([[12], [9], [7], [0]])
    lab_len = np.array([[6], [3], [0], [0]])
    f = _loss_fn("float64")
    got = f([labels, probs, in_len, lab_len])[0]
    expected = [forward_loss(probs[b, :in_len[b, 0]], labels[b, :lab_len[b, 0]], n_class - 1)
                for b in range(n_batch)]
    assert_close(got, np.array(expected).reshape(-1, 1))
    # the same function with another batch size and time length
    got = f([labels[:2, :2], probs[:2, :5], np.array([[5], [4]]), np.array([[2], [1]])])[0]
    expected = [forward_loss(probs[0, :5], labels[0, :2], 4),
                forward_loss(probs[1, :4], labels[1, :1], 4)]
    assert_close(got, np.array(expected).reshape(-1, 1))
    ph = [K.placeholder((None, width), dtype="int32"),
          K.placeholder((None, n_time, n_class), dtype="float64"),
          K.placeholder((None, 1), dtype="int32"), K.placeholder((None, 1), dtype="int32")]
    compiled, ref = run_both(ph, [ctc_batch_cost(*ph)], [labels, probs, in_len, lab_len])
    assert_close(compiled[0], ref[0])


def test_loss_tf_known_values():
    # TF's ctc_loss_op_test case (Keras 2.3.1 backend_test.test_ctc): losses 3.34211, 5.42262
    labels = np.array([[0, 1, 2, 1, 0], [0, 1, 1, 0, -1]], dtype=np.int32)
    inputs = np.array(
        [[[0.633766, 0.221185, 0.0917319, 0.0129757, 0.0142857, 0.0260553],
          [0.111121, 0.588392, 0.278779, 0.0055756, 0.00569609, 0.010436],
          [0.0357786, 0.633813, 0.321418, 0.00249248, 0.00272882, 0.0037688],
          [0.0663296, 0.643849, 0.280111, 0.00283995, 0.0035545, 0.00331533],
          [0.458235, 0.396634, 0.123377, 0.00648837, 0.00903441, 0.00623107]],
         [[0.30176, 0.28562, 0.0831517, 0.0862751, 0.0816851, 0.161508],
          [0.24082, 0.397533, 0.0557226, 0.0546814, 0.0557528, 0.19549],
          [0.230246, 0.450868, 0.0389607, 0.038309, 0.0391602, 0.202456],
          [0.280884, 0.429522, 0.0326593, 0.0339046, 0.0326856, 0.190345],
          [0.423286, 0.315517, 0.0338439, 0.0393744, 0.0339315, 0.154046]]],
        dtype=np.float32)
    loss = ctc_batch_cost(K.constant(labels, dtype="int32"), K.constant(inputs),
                          K.constant([[5], [5]]), K.constant([[5], [4]]))
    assert_close(K.eval(loss), np.array([[3.34211], [5.42262]], dtype=np.float32), rtol=1e-4)


def test_loss_is_stable_in_log_space():
    # 300 steps of a uniform 30-class distribution: every path has probability 30**-300,
    # far below float64's range, yet the loss is finite and exact
    n_time, n_class = 300, 30
    probs = np.full((1, n_time, n_class), 1.0 / n_class)
    labels = np.arange(20).reshape(1, 20) % (n_class - 1)
    got = K.eval(ctc_batch_cost(K.constant(labels, dtype="int32"),
                                K.constant(probs, dtype="float64"),
                                K.constant([[n_time]]), K.constant([[20]])))
    expected = forward_loss(probs[0], labels[0], n_class - 1)
    assert np.isfinite(expected) and expected > 600
    assert_close(got, np.array([[expected]]))


@pytest.mark.parametrize("labels,in_len,lab_len,pattern", [
    ([[0, 1]], [[3]], [[3]], r"label_length\[0\] = 3 is outside \[0, 2\]"),
    ([[0, 1]], [[5]], [[2]], r"input_length\[0\] = 5 is outside \[0, 4\]"),
    ([[0, 1]], [[-1]], [[2]], r"input_length\[0\] = -1"),
    ([[0, 2]], [[4]], [[2]], "label 2 at \\[0, 1\\] is not a class"),
    ([[0, -3]], [[4]], [[2]], "label -3"),
])
def test_loss_rejects_bad_lengths_and_labels(labels, in_len, lab_len, pattern):
    f = _loss_fn()
    probs = np.full((1, 4, 3), 1 / 3, dtype=np.float32)
    with pytest.raises(ValueError, match=pattern):
        f([np.array(labels), probs, np.array(in_len), np.array(lab_len)])


def test_loss_build_time_errors():
    with pytest.raises(ShapeError, match="batch sizes differ"):
        ctc_batch_cost(K.placeholder((2, 3), dtype="int32"), K.placeholder((3, 5, 4)),
                       K.placeholder((2, 1), dtype="int32"), K.placeholder((2, 1), dtype="int32"))
    with pytest.raises(ShapeError, match="rank 3"):
        ctc_batch_cost(K.placeholder((2, 3), dtype="int32"), K.placeholder((2, 5)),
                       K.placeholder((2, 1), dtype="int32"), K.placeholder((2, 1), dtype="int32"))
    with pytest.raises(ShapeError, match=r"\(batch, 1\)"):
        ctc_batch_cost(K.placeholder((2, 3), dtype="int32"), K.placeholder((2, 5, 4)),
                       K.placeholder((2, 2), dtype="int32"), K.placeholder((2, 1), dtype="int32"))
    with pytest.raises(TypeError, match="floating point"):
        ctc_batch_cost(K.placeholder((2, 3), dtype="int32"),
                       K.placeholder((2, 5, 4), dtype="int32"),
                       K.placeholder((2, 1), dtype="int32"), K.placeholder((2, 1), dtype="int32"))


# -- ctc_decode ----------------------------------------------------------------------------
def test_greedy_decode_by_hand():
    # classes 0, 1, 2 and the blank 3; argmax rows: 1 1 3 1 0 0 | 2 3 2 2 3 (len 5) | (len 0)
    best = [[1, 1, 3, 1, 0, 0], [2, 3, 2, 2, 3, 0], [0, 0, 0, 0, 0, 0]]
    probs = np.full((3, 6, 4), 0.1, dtype=np.float32)
    for b, row in enumerate(best):
        for t, c in enumerate(row):
            probs[b, t, c] = 0.6 + 0.05 * t
    lengths = np.array([6, 5, 0])
    y_pred = K.placeholder((None, None, 4))
    in_len = K.placeholder((None,), dtype="int32")
    decoded, log_prob = ctc_decode(y_pred, in_len, greedy=True, top_paths=3)
    assert len(decoded) == 1 and K.int_shape(decoded[0]) == (None, None)
    assert decoded[0].dtype == "int64" and K.int_shape(log_prob) == (None, 1)
    got, score = K.function([y_pred, in_len], [decoded[0], log_prob])([probs, lengths])
    assert_close(got, np.array([[1, 1, 0, -1, -1, -1], [2, 2, -1, -1, -1, -1],
                                [-1] * 6]), dtype="int64")
    expected = [-sum(np.log(probs[b, t].max() + np.float32(EPS)) for t in range(lengths[b]))
                for b in range(3)]
    assert_close(score, np.array(expected, dtype=np.float32).reshape(3, 1), dtype="float32")
    assert (score[:2] > 0).all() and score[2, 0] == 0


def test_greedy_decode_static_time_and_reference():
    probs = _random_probs(np.random.default_rng(2), (2, 7, 4), "float64")
    y_pred = K.placeholder((None, 7, 4), dtype="float64")
    in_len = K.placeholder((None,), dtype="int64")
    decoded, log_prob = ctc_decode(y_pred, in_len)
    assert K.int_shape(decoded[0]) == (None, 7)
    compiled, ref = run_both([y_pred, in_len], [decoded[0], log_prob], [probs, np.array([7, 3])])
    assert_close(compiled[0], ref[0])
    assert_close(compiled[1], ref[1])
    for b, n in enumerate([7, 3]):
        seq = list(_collapse(np.argmax(probs[b, :n], axis=1), 3))
        assert compiled[0][b].tolist() == seq + [-1] * (7 - len(seq))


@pytest.mark.parametrize("seed", [3, 4])
def test_beam_search_equals_exact_scores(seed):
    rng = np.random.default_rng(seed)
    n_batch, n_time, n_class = 3, 4, 3
    probs = _random_probs(rng, (n_batch, n_time, n_class), "float64")
    lengths = np.array([4, 3, 1])
    y_pred = K.placeholder((None, n_time, n_class), dtype="float64")
    in_len = K.placeholder((None,), dtype="int32")
    decoded, log_prob = ctc_decode(y_pred, in_len, greedy=False, beam_width=100, top_paths=3,
                                   merge_repeated=False)
    assert len(decoded) == 3 and K.int_shape(log_prob) == (None, 3)
    f = K.function([y_pred, in_len], decoded + [log_prob])
    out = f([probs, lengths])
    for b in range(n_batch):
        exact = exact_prefix_scores(probs[b, :lengths[b]], n_class - 1)[:3]
        for p, (labels, score) in enumerate(exact):
            row = out[p][b].tolist()
            assert row == list(labels) + [-1] * (n_time - len(labels)), (b, p)
            assert math.isclose(out[3][b, p], score, rel_tol=1e-9, abs_tol=1e-12)
    compiled, ref = run_both([y_pred, in_len], decoded + [log_prob], [probs, lengths])
    for c, r in zip(compiled, ref):
        assert_close(c, r)


def test_beam_merge_repeated():
    # one dominant path A _ A A B _ B (A=0, B=1, blank=2)
    path = [0, 2, 0, 0, 1, 2, 1]
    probs = np.full((1, 7, 3), 0.01, dtype=np.float32)
    probs[0, np.arange(7), path] = 0.98
    y_pred, length = K.constant(probs), K.constant([7])
    kept, _ = ctc_decode(y_pred, length, greedy=False, beam_width=10, merge_repeated=False)
    merged, _ = ctc_decode(y_pred, length, greedy=False, beam_width=10, merge_repeated=True)
    assert K.eval(kept[0]).tolist() == [[0, 0, 1, 1, -1, -1, -1]]
    assert K.eval(merged[0]).tolist() == [[0, 1, -1, -1, -1, -1, -1]]
    greedy, _ = ctc_decode(y_pred, length)
    assert K.eval(greedy[0]).tolist() == [[0, 0, 1, 1, -1, -1, -1]]


def test_beam_narrow_width_and_empty_sequences():
    probs = _random_probs(np.random.default_rng(5), (2, 6, 5), "float32")
    y_pred = K.placeholder((None, None, 5))
    in_len = K.placeholder((None,), dtype="int32")
    decoded, log_prob = ctc_decode(y_pred, in_len, greedy=False, beam_width=2)
    f = K.function([y_pred, in_len], [decoded[0], log_prob])
    labels, score = f([probs, np.array([6, 0])])
    assert labels.shape == (2, 6) and score.shape == (2, 1) and score.dtype == np.float32
    assert labels[1].tolist() == [-1] * 6 and score[1, 0] == 0  # empty input: empty decode
    assert ((labels[0] >= -1) & (labels[0] < 4)).all()
    # a narrow beam never beats the exact best labeling's score (TF scores are not
    # normalised: each step only has its max subtracted, so they may be positive)
    best = exact_prefix_scores(probs[0].astype(np.float64), 4)[0][1]
    assert score[0, 0] <= best + 1e-5


def test_decode_errors():
    y_pred = K.placeholder((None, 4, 3))
    in_len = K.placeholder((None,), dtype="int32")
    with pytest.raises(ShapeError, match="top_paths=3 is more than beam_width=2"):
        ctc_decode(y_pred, in_len, greedy=False, beam_width=2, top_paths=3)
    with pytest.raises(ShapeError, match="beam_width must be a positive int"):
        ctc_decode(y_pred, in_len, greedy=False, beam_width=0)
    decoded, _ = ctc_decode(y_pred, in_len)
    f = K.function([y_pred, in_len], decoded)
    probs = np.full((1, 4, 3), 1 / 3, dtype=np.float32)
    with pytest.raises(ValueError, match=r"input_length\[0\] = 5 is outside \[0, 4\]"):
        f([probs, np.array([5])])
    decoded, _ = ctc_decode(y_pred, in_len, greedy=False, beam_width=4, top_paths=2)
    g = K.function([y_pred, in_len], decoded)
    with pytest.raises(ValueError, match="fewer than top_paths=2"):
        g([probs, np.array([0])])


# -- Keras 2.3.1 Theano helpers -------------------------------------------------------------
def _theano_skip(y):
    cand = np.arange(max((len(y) - 3) // 2, 0)) * 2 + 1
    return cand[y[cand] != y[cand + 2]]


def _theano_update(skip, zeros, active, cur, prev):
    """The Theano backend's ctc_update_log_p transcribed to NumPy (found skips only)."""
    act_skip = skip[skip < active]
    active_next = min(max(active + 1, max(list(act_skip) + [-1]) + 3), len(cur))
    common = prev[:active].max()
    p_prev = np.exp(prev[:active] - common)
    q = zeros[:active_next].copy()
    q[:active] = p_prev
    q[1:] = q[1:] + q[:-1].copy()
    q[act_skip + 2] += p_prev[act_skip]
    with np.errstate(divide="ignore"):
        out = zeros.copy()
        out[:active_next] = cur[:active_next] + np.log(q) + common
    return active_next, out


def _state_paths_prob(smoothed, y):
    """Sum over every valid path through the interleaved states of prod smoothed[t, s]."""
    n_time, n_states = smoothed.shape
    total = 0.0
    for states in itertools.product(range(n_states), repeat=n_time):
        if states[0] > 1 or states[-1] < n_states - 2:
            continue
        ok = True
        for a, b in zip(states, states[1:]):
            step = b - a
            if step not in (0, 1, 2) or (step == 2 and (y[b] == -1 or y[b] == y[a])):
                ok = False
                break
        if ok:
            total += math.prod(smoothed[t, s] for t, s in enumerate(states))
    return total


def test_interleave_blanks_and_skip_idxs():
    y = K.placeholder((None,), dtype="int32")
    inter = ctc_interleave_blanks(y)
    skip = ctc_create_skip_idxs(inter)
    assert K.int_shape(inter) == (None,) and inter.dtype == "int32"
    assert K.int_shape(ctc_interleave_blanks(K.placeholder((3,), dtype="int32"))) == (7,)
    f = K.function([y], [inter, skip])
    for labels in ([2, 2, 5, 1, 1], [4], [], [3, 3, 3]):
        labels = np.array(labels, dtype=np.int32)
        got_inter, got_skip = f([labels])
        expected = -np.ones(2 * len(labels) + 1, dtype=np.int32)
        expected[1::2] = labels
        assert_close(got_inter, expected, dtype="int32")
        found = _theano_skip(expected)
        cap = max((len(expected) - 3) // 2, 0)
        assert got_skip.tolist() == found.tolist() + [len(expected)] * (cap - len(found))


def test_update_log_p_matches_theano_transcription():
    rng = np.random.default_rng(6)
    y = np.array([-1, 0, -1, 0, -1, 1, -1, 2, -1])
    n_states = len(y)
    skip_t = K.placeholder((None,), dtype="int64")
    zeros_t = K.placeholder((n_states,), dtype="float64")
    active_t = K.placeholder((), dtype="int32")
    cur_t = K.placeholder((n_states,), dtype="float64")
    prev_t = K.placeholder((n_states,), dtype="float64")
    active_next, log_next = ctc_update_log_p(skip_t, zeros_t, active_t, cur_t, prev_t)
    assert active_next.dtype == "int32" and K.int_shape(log_next) == (n_states,)
    phs = [skip_t, zeros_t, active_t, cur_t, prev_t]
    f = K.function(phs, [active_next, log_next])
    found = _theano_skip(y)
    padded = K.eval(ctc_create_skip_idxs(K.constant(y, dtype="int64")))
    zeros = np.zeros(n_states)
    prev = zeros
    active = 1
    for _ in range(6):
        cur = np.log(rng.random(n_states))
        exp_active, exp_log = _theano_update(found, zeros, active, cur, prev)
        got_active, got_log = f([padded, zeros, np.array(active, dtype=np.int32), cur, prev])
        assert int(got_active) == exp_active
        assert_close(got_log, exp_log)
        active, prev = exp_active, exp_log
    compiled, ref = run_both(phs, [active_next, log_next],
                             [padded, zeros, np.array(2, dtype=np.int32), cur, prev])
    assert_close(compiled[1], ref[1])
    with pytest.raises(ValueError, match=r"active = 0 is outside \[1, 9\]"):
        f([padded, zeros, np.array(0, dtype=np.int32), cur, prev])
    with pytest.raises(ValueError, match="skip index 8"):
        f([np.array([8]), zeros, np.array(9, dtype=np.int32), cur, prev])


@pytest.mark.parametrize("labels,n_time", [([0, 1], 4), ([1, 1], 4), ([0], 3)])
def test_path_probs_and_cost_match_brute_force(labels, n_time):
    rng = np.random.default_rng(7)
    n_class = 3
    probs = _random_probs(rng, (n_time, n_class), "float64")
    predict = K.placeholder((None, n_class), dtype="float64")
    y = K.placeholder((None,), dtype="int32")
    log_probs, mask = ctc_path_probs(predict, ctc_interleave_blanks(y))
    cost = ctc_cost(predict, y)
    assert mask.dtype == "bool" and K.int_shape(log_probs) == (None, None)
    f = K.function([predict, y], [log_probs, mask, cost])
    got_lp, got_mask, got_cost = f([probs, np.array(labels, dtype=np.int32)])
    inter = -np.ones(2 * len(labels) + 1, dtype=np.int64)
    inter[1::2] = labels
    smoothed = (1 - 1e-4) * probs[:, inter] + 1e-4 / len(inter)
    # every time step's alpha * beta / y over the masked states sums to the path probability
    total = _state_paths_prob(smoothed, inter)
    per_step = np.where(got_mask, np.exp(got_lp), 0.0).sum(axis=1)
    assert_close(per_step, np.full(n_time, total), rtol=1e-9)
    assert_close(got_cost, np.array(-math.log(n_time * total)), rtol=1e-9)
    compiled, ref = run_both([predict, y], [log_probs, mask],
                             [probs, np.array(labels, dtype=np.int32)])
    assert_close(compiled[0], ref[0])
    assert_close(compiled[1], ref[1])


def test_path_probs_errors():
    with pytest.raises(ShapeError, match="rank 2"):
        ctc_path_probs(K.placeholder((2, 3, 4)), K.placeholder((3,), dtype="int32"))
    log_probs, _ = ctc_path_probs(K.placeholder((2, 3)), K.constant([-1, 5, -1], dtype="int32"))
    with pytest.raises(ValueError, match="Y holds class 5"):
        K.function([log_probs.inputs[0].inputs[0].inputs[0]], [log_probs])(
            [np.full((2, 3), 1 / 3, dtype=np.float32)])


def test_beam_scores_are_tf_log_probabilities():
    # numbers from TF 2.21's tf.compat.v1.nn.ctc_beam_search_decoder on log(y + 1e-7)
    # (beam_width=5, top_paths=4), the call TF 2.2's K.ctc_decode makes
    logits = np.random.RandomState(0).randn(2, 6, 4).astype("float32")[1:]
    y = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    decoded, log_prob = ctc_decode(K.constant(y), K.constant([4], dtype="int32"),
                                   greedy=False, beam_width=5, top_paths=4)
    paths = [K.eval(d)[0].tolist() for d in decoded]
    assert paths == [[0, 1, -1, -1, -1, -1], [0, 1, 0, -1, -1, -1], [0, -1, -1, -1, -1, -1],
                     [0, 2, 0, -1, -1, -1]]
    np.testing.assert_allclose(K.eval(log_prob)[0], [-1.8978099, -2.2351198, -2.3781602,
                                                     -2.4917483], rtol=1e-6)


def test_beam_search_follows_tf_trie_semantics():
    # TF keeps a trie of prefixes and refuses children one at a time against the lowest
    # leaf; a beam evicted and then refused as a child offers no children that step.
    # TF 2.21 gives these (beam_width=5, merge_repeated=True; its 4th path ties with
    # another by symmetry, so 3 are compared); a global top-k beam search scores the
    # first path -1.7031 instead
    rows = [[0.7, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.7], [0.7, 0.1, 0.1, 0.1],
            [0.7, 0.1, 0.1, 0.1], [0.1, 0.7, 0.1, 0.1], [0.1, 0.1, 0.1, 0.7]]
    y = np.array([rows], dtype="float32")
    decoded, log_prob = ctc_decode(K.constant(y), K.constant([6], dtype="int32"),
                                   greedy=False, beam_width=5, top_paths=3)
    paths = [[c for c in K.eval(d)[0].tolist() if c >= 0] for d in decoded]
    assert paths == [[0, 1], [0, 1], [0]]
    np.testing.assert_allclose(K.eval(log_prob)[0], [-1.5910003, -2.9911041, -3.0857236],
                               rtol=1e-5)


@pytest.mark.parametrize("seed", range(3))
def test_beam_kernel_matches_reference_on_narrow_beams(seed):
    rng = np.random.default_rng(seed)
    for _ in range(20):
        n_time, n_class, width = int(rng.integers(1, 8)), int(rng.integers(2, 6)), \
            int(rng.integers(1, 6))
        probs = _random_probs(rng, (2, n_time, n_class), "float64")
        y_pred = K.placeholder((None, None, n_class), dtype="float64")
        in_len = K.placeholder((None,), dtype="int32")
        decoded, log_prob = ctc_decode(y_pred, in_len, greedy=False, beam_width=width,
                                       top_paths=1, merge_repeated=bool(rng.integers(2)))
        compiled, ref = run_both([y_pred, in_len], decoded + [log_prob],
                                 [probs, np.array([n_time, max(n_time - 2, 0)])])
        for c, r in zip(compiled, ref):
            assert_close(c, r)
