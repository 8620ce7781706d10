"""minigrad.viz: the graph as Graphviz source and as a PNG, its layout, and the figure scripts."""
import os
import re
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, viz
from minigrad.tools.viz import COLORS, KIND_TEXT, Node, layers_of, order_layers

ROOT = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def small_graph():
    """out = sum(y * y + c), y = a * w: 7 tensors, 7 input links (y is used twice by one Mul)."""
    a = mg.Tensor(np.arange(3.0), requires_grad=True)  # a leaf
    w = nn.Parameter(np.ones(3))
    c = mg.Tensor(np.full(3, 2.0))  # a constant
    y = a * w  # 2 links
    out = (y * y + c).sum()  # 2 + 2 + 1 links
    return out, a, w, c


def node_lines(dot):
    return [line for line in dot.splitlines() if re.match(r"\s*n\d+ \[", line)]


def test_dot_has_one_node_per_tensor_and_one_edge_per_input_link():
    out, *_ = small_graph()
    dot = mg.viz.to_dot(out)
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    assert len(node_lines(dot)) == 7
    edges = re.findall(r"n(\d+) -> n(\d+);", dot)
    assert len(edges) == 7
    assert len(set(edges)) == 6  # y -> (y * y) twice


def test_dot_marks_leaves_parameters_and_constants():
    out, *_ = small_graph()
    lines = node_lines(viz.to_dot(out))
    for kind, count in [("op", 4), ("param", 1), ("leaf", 1), ("const", 1)]:
        assert sum(f'fillcolor="{COLORS[kind]}"' in line for line in lines) == count, kind
    assert sum("shape=box" in line for line in lines) == 4  # ops are boxes, leaves ellipses


def test_dot_shows_names_when_given():
    out, a, w, _ = small_graph()
    dot = viz.to_dot(out, names={"input": a, "scale": w})
    assert 'label="scale\\n(3,)"' in dot and 'label="input\\n(3,)"' in dot
    assert 'label="Mul\\n(3,)"' in dot and 'label="Sum\\n()"' in dot


def test_names_from_a_module():
    layer = nn.Linear(4, 2)
    dot = viz.to_dot(layer(mg.randn(3, 4)), names=layer)
    assert 'label="weight\\n(2, 4)"' in dot and 'label="bias\\n(2,)"' in dot


def test_drawing_after_backward_explains_itself():
    out, *_ = small_graph()
    out.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        viz.to_dot(out)


def test_retain_graph_keeps_it_drawable():
    out, *_ = small_graph()
    out.backward(retain_graph=True)
    assert len(node_lines(viz.to_dot(out))) == 7


def test_draw_graph_writes_a_png(tmp_path):
    out, a, w, _ = small_graph()
    path = tmp_path / "graph.png"
    mg.viz.draw_graph(out, str(path), names={"a": a, "w": w}, title="small")
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


def attention_graph():
    """q, k, v = three Linear layers of x (5, 4), then softmax(q k^T / 2) v: q, k and v are all `Linear (5, 4)`."""
    mg.manual_seed(0)
    x = mg.Tensor(np.random.default_rng(0).standard_normal((5, 4), dtype=np.float32), requires_grad=True)
    q, k, v = (nn.Linear(4, 4)(x) for _ in range(3))
    out = mg.nn.functional.softmax(q @ k.T / 2.0, dim=-1) @ v
    return out, {"x": x, "q": q, "k": k, "v": v}


def test_names_label_intermediate_tensors_too():
    out, names = attention_graph()
    dot = viz.to_dot(out, names=names)
    for name in "qkv":
        assert f'label="{name} = Linear\\n(5, 4)"' in dot, name
    assert 'label="Linear\\n(5, 4)"' not in dot and 'label="x\\n(5, 4)"' in dot
    assert 'label="MatMul\\n(5, 4)"' in dot  # an op without a name keeps its op's name


def test_draw_graph_labels_the_named_tensors_and_its_legend_covers_nothing(tmp_path):
    out, names = attention_graph()
    fig = viz.draw_graph(out, str(tmp_path / "graph.png"), names=names, title="q, k, v and attention")
    fig.canvas.draw()  # lay everything out at the figure's own dpi, so the extents below agree
    renderer = fig.canvas.get_renderer()
    (ax,) = fig.axes
    nodes = [t for t in ax.texts if t.get_bbox_patch() is not None]  # (the arrows are empty annotations)
    assert {"q = Linear\n(5, 4)", "k = Linear\n(5, 4)", "v = Linear\n(5, 4)"} <= {t.get_text() for t in nodes}
    (legend,) = fig.legends
    key, title = legend.get_window_extent(renderer), fig._suptitle.get_window_extent(renderer)
    assert key.y1 <= ax.get_window_extent(renderer).y0  # below the graph: it covers no box and no edge
    for part in [key, title, *(t.get_bbox_patch().get_window_extent(renderer) for t in nodes)]:
        assert fig.bbox.x0 <= part.x0 and part.x1 <= fig.bbox.x1 and fig.bbox.y0 <= part.y0 and part.y1 <= fig.bbox.y1
    for t in nodes:
        box = t.get_bbox_patch().get_window_extent(renderer)
        assert not box.overlaps(key) and not box.overlaps(title), t.get_text()
    assert [text.get_text() for text in legend.get_texts()] == list(KIND_TEXT.values())


def test_layers_put_ops_below_their_inputs_and_leaves_just_above_their_first_user():
    out, *_ = small_graph()
    nodes = viz.collect(out)
    layer = layers_of(nodes)
    for i, node in enumerate(nodes):
        assert all(layer[j] < layer[i] for j in node.inputs)
        users = [layer[k] for k, other in enumerate(nodes) if i in other.inputs]
        if not node.inputs and users:
            assert layer[i] == min(users) - 1
    assert layer[-1] == max(layer)  # the output is at the bottom


def test_ordering_removes_a_crossing():
    # leaves 0, 1; node 2 uses 1, node 3 uses 0: in the given order the two edges cross
    nodes = [Node(None, "leaf", "a"), Node(None, "leaf", "b"), Node(None, "op", "f", [1]),
             Node(None, "op", "g", [0]), Node(None, "op", "h", [2, 3])]
    rows, paths = order_layers(nodes, layers_of(nodes))
    position = {v: k for row in rows for k, v in enumerate(row)}
    assert (position[0] < position[1]) == (position[3] < position[2])  # no crossing left
    assert sorted(map(tuple, paths)) == [(0, 3), (1, 2), (2, 4), (3, 4)]


def test_a_long_edge_gets_one_waypoint_per_skipped_layer():
    x = mg.Tensor(np.ones(2), requires_grad=True)
    out = x + x.exp().tanh().sqrt()  # x -> Add skips 3 layers
    nodes = viz.collect(out)
    rows, paths = order_layers(nodes, layers_of(nodes))
    longest = max(paths, key=len)
    assert len(longest) == 5 and longest[0] == 0 and longest[-1] == len(nodes) - 1
    assert sum(len(row) for row in rows) == len(nodes) + 3


def run_script(script, *args):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, f"examples/{script}", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_draw_patching_writes_a_png(tmp_path):
    stdout = run_script("draw_patching.py", "--out", str(tmp_path / "patching.png"))
    assert (tmp_path / "patching.png").read_bytes()[:8] == PNG_SIGNATURE
    assert re.search(r"im2col @ W\^T \+ b == conv2d: max \|difference\| = \S+", stdout)


def test_draw_patching_takes_an_image(tmp_path):
    rgb = np.random.default_rng(0).random((50, 40, 3))
    matplotlib.image.imsave(tmp_path / "photo.png", rgb)
    run_script("draw_patching.py", "--image", str(tmp_path / "photo.png"), "--out", str(tmp_path / "p.png"))
    assert (tmp_path / "p.png").read_bytes()[:8] == PNG_SIGNATURE


def test_draw_vit_block_writes_the_graph_and_the_trace(tmp_path):
    run_script("draw_vit_block.py", "--out-dir", str(tmp_path))
    assert (tmp_path / "graph_vit_block.png").read_bytes()[:8] == PNG_SIGNATURE
    trace = (tmp_path / "trace_vit_block.txt").read_text()
    for op in ["ScaledDotProductAttention", "LayerNorm", "GeluTanh", "Linear", "Add"]:
        assert f"  {op} -> " in trace
    assert "to param attention.qkv_projection.weight (24, 8): grad (24, 8)" in trace
