"""Every op in the registry is complete: rule, data inputs, reference, kernel, grad slot."""

import pytest

from symgraph.ops.registry import (
    ELEMENTWISE,
    GRAD_PENDING,
    KINDS,
    LEAF,
    NOT_DIFFERENTIABLE,
    REGISTRY,
)

EXPECTED_OPS = {
    "placeholder", "variable", "constant", "fill", "add", "subtract", "multiply",
    "true_divide", "floor_divide", "mod", "power", "maximum", "minimum", "negative", "abs",
    "sign", "square", "sqrt", "exp", "expm1", "log", "log1p", "sin", "cos", "tanh", "sigmoid",
    "softplus", "softsign", "round", "cast", "isfinite", "logical_not", "logical_and",
    "logical_or", "equal", "not_equal", "greater", "greater_equal", "less", "less_equal",
    "where", "sum", "prod", "max", "min", "any", "all", "mean", "argmax", "argmin", "matmul",
    "reshape", "transpose", "broadcast_to", "getitem", "concatenate", "shape", "random",
    "stop_gradient", "assign", "after", "print_tensor", "gather", "pick", "in_top_k",
    "cumulative", "pad", "resize_bilinear", "resize_bilinear_grad", "sum_to", "scatter_index",
    "concat_part", "scatter_rows", "scatter_pick", "conv", "depthwise_conv", "conv_transpose",
    "local_conv", "pool", "scan", "scan_output", "ctc_loss", "ctc_decode", "ctc_update_log_p",
    "ctc_path_probs", "ctc_skip_idxs", "sparse_to_dense", "identity", "conv_input_grad",
    "conv_kernel_grad", "depthwise_input_grad", "depthwise_kernel_grad", "local_input_grad",
    "local_kernel_grad", "max_pool_grad", "max_pool_gather", "avg_pool_grad", "ctc_loss_grad",
    "ctc_update_log_p_grad", "ctc_path_probs_grad", "sparse_gather",
    "padded_rows_to_sparse_indices", "padded_rows_to_sparse_values",
    "padded_rows_to_sparse_count",
}


def test_registry_holds_every_op():
    assert EXPECTED_OPS <= set(REGISTRY)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_op_entry_is_complete(name):
    op = REGISTRY[name]
    assert op.name == name
    assert op.kind in KINDS
    assert callable(op.infer), "shape/dtype rule"
    assert callable(op.reference), "NumPy reference"
    assert op.doc, "one-line description"
    if op.kind == ELEMENTWISE:
        assert callable(op.scalar), "elementwise ops need a scalar template to be fused"
    elif op.kind != LEAF:
        assert callable(op.kernel), "non-elementwise ops need a kernel"
    assert op.grad is GRAD_PENDING or op.grad is NOT_DIFFERENTIABLE or callable(op.grad)
    if op.data_inputs is not None:
        assert all(isinstance(i, int) for i in op.data_inputs)


def test_shape_only_ops_declare_it():
    assert REGISTRY["fill"].data_inputs == ()
    assert REGISTRY["shape"].data_inputs == ()
    assert REGISTRY["reshape"].data_inputs == (0,)
