"""minigrad.trace(): one record per graph node, in backward order, with the right numbers."""
import io

import numpy as np
import pytest

import minigrad as mg
from minigrad import engine, nn
from minigrad.engine import topological_order
from vit_np.config import ViTConfig
from vit_np.model import Block


def leaf(shape, dtype=np.float64, seed=0):
    return mg.Tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype), requires_grad=True)


def test_a_chain_is_traced_from_the_output_back():
    x = leaf((2, 3))
    with mg.trace(file=None) as t:
        (x * 2.0).exp().sum().backward()
    assert [r.op for r in t.records] == ["Sum", "Exp", "Mul"]
    assert [r.step for r in t.records] == [1, 2, 3]
    assert [r.shape for r in t.records] == [(), (2, 3), (2, 3)]
    assert t.records[0].dtype == "float64"


def test_every_node_comes_before_the_nodes_it_sends_gradients_to():
    x, w = leaf((3, 4)), leaf((4, 4), seed=1)
    with mg.trace(file=None) as t:
        h = (x @ w).tanh()
        (h * h + h @ w).sum().backward()
    labels = [r.label for r in t.records]
    assert len(labels) == len(set(labels)) == 6  # Sum, Add, Mul, MatMul, Tanh, MatMul: each once
    for k, record in enumerate(t.records):
        for i in record.inputs:
            if i.kind == "node":
                assert i.label in labels[k + 1:], f"step {record.step} sends to {i.label}, which was already visited"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_grad_norms_are_the_norms_of_the_actual_gradients(dtype):
    x, w = leaf((3, 4), dtype), leaf((4, 2), dtype, seed=1)
    y = x @ w
    z = y.sigmoid()
    loss = (z * mg.Tensor(np.random.default_rng(2).standard_normal((3, 2)).astype(dtype))).sum()
    for t in (y, z):
        t.retain_grad()
    with mg.trace(file=None, names={"y": y, "z": z}) as tr:
        loss.backward()
    norms = {r.label: r.grad_norm for r in tr.records}
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    for name, t in (("y", y), ("z", z)):
        np.testing.assert_allclose(norms[name], np.linalg.norm(t.grad.numpy().astype(np.float64)), rtol=rtol)
    assert norms[tr.records[0].label] == 1.0  # d loss / d loss


def test_input_records_show_kinds_and_the_broadcast_gradient_being_summed():
    x = leaf((2, 3))
    b = nn.Parameter(np.ones(3))
    c = mg.Tensor(np.ones((2, 3)))  # a constant: no gradient is sent to it
    with mg.trace(file=None, names={"bias": b}) as t:
        ((x + b) * c).sum().backward()
    mul, add = t.records[1], t.records[2]
    assert [i.kind for i in mul.inputs] == ["node", "const"]
    assert mul.inputs[1].grad_shape is None and mul.inputs[1].received_shape is None
    assert [(i.kind, i.label) for i in add.inputs] == [("leaf", add.inputs[0].label), ("param", "bias")]
    assert add.inputs[1].grad_shape == (2, 3) and add.inputs[1].received_shape == (3,)
    assert add.inputs[0].grad_shape == add.inputs[0].received_shape == (2, 3)


def test_parameter_names_come_from_a_module():
    layer = nn.Linear(3, 2, dtype=np.float64)
    with mg.trace(file=None, names=layer) as t:
        layer(leaf((4, 3))).sum().backward()
    labels = {i.label for r in t.records for i in r.inputs}
    assert {"weight", "bias"} <= labels


def test_a_tensor_used_twice_counts_two_contributions():
    x = leaf((2, 2))
    with mg.trace(file=None) as t:
        h = x.exp()
        (h * h).sum().backward()
    exp = t.records[-1]
    assert exp.op == "Exp" and exp.contributions == 2
    assert all(r.contributions == 1 for r in t.records[:-1])


def test_the_hook_is_removed_on_exit():
    before = list(engine.tracers)
    with mg.trace(file=None):
        assert len(engine.tracers) == len(before) + 1
    assert engine.tracers == before


def test_the_hook_is_removed_when_the_block_raises():
    before = list(engine.tracers)
    with pytest.raises(ValueError, match="boom"):
        with mg.trace(file=None):
            raise ValueError("boom")
    assert engine.tracers == before


def test_printed_lines():
    x = leaf((2, 3))
    b = nn.Parameter(np.zeros(3))
    out = io.StringIO()
    with mg.trace(file=out, names={"x": x, "b": b}):
        (x + b).sum().backward()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("backward, step by step")
    assert "   1  Sum -> %0 () float64   |grad| 1" in lines
    assert "        to node  %1 (2, 3): grad (2, 3)" in lines
    assert "        to leaf  x (2, 3): grad (2, 3)" in lines
    assert "        to param b (3,): grad (2, 3), summed to (3,)" in lines


def test_file_none_prints_nothing(capsys):
    with mg.trace(file=None) as t:
        leaf((2,)).sum().backward()
    assert capsys.readouterr().out == "" and len(t.records) == 1


def test_default_file_is_stdout(capsys):
    with mg.trace():
        leaf((2,)).sum().backward()
    assert "Sum -> %0 ()" in capsys.readouterr().out


@pytest.mark.parametrize("faster", [True, False], ids=["fused_attention", "per_head_attention"])
def test_one_vit_block_every_op_is_traced(faster):
    config = ViTConfig(hidden_size=8, num_attention_heads=2, intermediate_size=16, use_faster_attention=faster)
    block = Block(config)  # training mode: dropout ops are in the graph too
    x = leaf((1, 5, 8), np.float32)
    out, _ = block(x)
    graph_ops = {node.fn.__name__ for node in topological_order([out.grad_fn]) if hasattr(node, "fn")}
    with mg.trace(file=None, names=block) as t:
        out.backward(np.ones(out.shape, dtype=np.float32))
    assert {r.op for r in t.records} == graph_ops
    assert {"LayerNorm", "Linear", "GeluTanh", "Add", "Dropout"} <= graph_ops
    named = {i.label for r in t.records for i in r.inputs if i.kind == "param"}
    assert named == {name for name, _ in block.named_parameters()}


def test_backward_trace_flag_prints_the_steps(capsys):
    x = mg.Tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward(trace=True)
    out = capsys.readouterr().out
    assert "Sum" in out and "Mul" in out
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])
