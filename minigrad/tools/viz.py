"""Pictures of a computation graph: `draw_graph` (a PNG, via matplotlib) and `to_dot` (Graphviz source).

    logits = model(x)
    minigrad.viz.draw_graph(logits, "graph.png", names=model)   # before logits.backward()

Draw the graph *before* backward(): backward frees it (unless you pass retain_graph=True).
Each box is an op and the tensor it made (op name and shape; `q = Linear` when `names` names that
tensor, as in names={"q": q, "k": k}); parameters, other leaves that require grad and constants are
drawn in their own colours, explained by a legend below the graph. Edges point from an input to the op
that used it, so the picture reads top (leaves) to bottom (the output), as the forward pass ran.

Layout (a small Sugiyama layout): each op sits one layer below its deepest input; each leaf one
layer above its first user; edges that skip layers pass through invisible waypoints; a few
barycenter sweeps order each layer to cut edge crossings. Only matplotlib draws, and only
draw_graph imports it: minigrad itself needs NumPy alone.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping

from minigrad.nn.module import Module, Parameter
from minigrad.tensor import Tensor
from minigrad.tools.trace import named_tensors

if TYPE_CHECKING:
    from matplotlib.figure import Figure

COLORS = {"op": "#cfe2f3", "param": "#f9cb9c", "leaf": "#b6d7a8", "const": "#eeeeee"}
KIND_TEXT = {"op": "op (the tensor it made)", "param": "parameter", "leaf": "leaf with requires_grad",
             "const": "constant (no grad)"}


@dataclass
class Node:
    """One tensor of the graph: what made it, and the indices of its inputs (one per input link)."""

    tensor: Tensor
    kind: str  # "op", "param", "leaf" or "const"
    title: str  # the op's name, the parameter's name, or the kind
    inputs: list[int] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.tensor.shape


def collect(root: Tensor, names: Module | Mapping[str, Tensor] | None = None) -> list[Node]:
    """Every tensor `root` was computed from, inputs before the ops that use them (root last)."""
    name_of = {id(t): n for n, t in named_tensors(names).items()}
    index: dict[int, int] = {}
    nodes: list[Node] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:  # iterative depth-first search, as engine.topological_order (but constants too)
        t, inputs_done = stack.pop()
        if inputs_done:
            index[id(t)] = len(nodes)
            nodes.append(_node(t, name_of))
            continue
        if id(t) in visited:
            continue
        visited.add(id(t))
        stack.append((t, True))  # revisit after its inputs
        stack.extend((p, False) for p in reversed(_inputs_of(t)) if id(p) not in visited)
    for node in nodes:
        node.inputs = [index[id(p)] for p in _inputs_of(node.tensor)]
    return nodes


def _inputs_of(t: Tensor) -> tuple[Tensor, ...]:
    if t._grad_fn is None:
        return ()
    if t._grad_fn.released:
        raise RuntimeError(f"viz: the graph through {t._grad_fn.fn.__name__} was freed by backward(); "
                           "draw the graph before backward(), or call backward(retain_graph=True)")
    return t._grad_fn.inputs


def _node(t: Tensor, name_of: dict[int, str]) -> Node:
    if t._grad_fn is not None:
        op = t._grad_fn.fn.__name__
        return Node(t, "op", f"{name_of[id(t)]} = {op}" if id(t) in name_of else op)  # "q = Linear"
    kind = "param" if isinstance(t, Parameter) else "leaf" if t.requires_grad else "const"
    if id(t) not in name_of and kind == "const" and t.numel() == 1:
        return Node(t, kind, f"const {t._data.item():.4g}")  # e.g. the 1/sqrt(hs) in attention
    return Node(t, kind, name_of.get(id(t), kind))


def node_text(node: Node) -> str:
    """The label of a node: its title (long dotted names wrapped at the dots) over its shape."""
    title = "\n".join(textwrap.wrap(node.title.replace(".", ". "), 22, break_long_words=False)).replace(". ", ".")
    return f"{title}\n{tuple(node.shape)}"


# -- Graphviz ---------------------------------------------------------------------------------------


def to_dot(tensor: Tensor, names: Module | Mapping[str, Tensor] | None = None) -> str:
    """Graphviz source: one node per tensor, one edge per input link (render with `dot -Tpng`)."""
    shapes = {"op": "box", "param": "ellipse", "leaf": "ellipse", "const": "ellipse"}
    lines = ["digraph minigrad {", "  rankdir=TB;", '  node [fontname="Helvetica", fontsize=10];']
    nodes = collect(tensor, names)
    for i, node in enumerate(nodes):
        label = node_text(node).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        style = "rounded,filled" if node.kind == "op" else "filled"
        lines.append(f'  n{i} [label="{label}", shape={shapes[node.kind]}, style="{style}", '
                     f'fillcolor="{COLORS[node.kind]}", tooltip="{KIND_TEXT[node.kind]}"];')
    for i, node in enumerate(nodes):
        lines.extend(f"  n{j} -> n{i};" for j in node.inputs)
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- layout -----------------------------------------------------------------------------------------


def layers_of(nodes: list[Node]) -> list[int]:
    """Layer of each node: an op one below its deepest input, a leaf one above its first user."""
    layer = [0] * len(nodes)
    for i, node in enumerate(nodes):  # inputs come first in `nodes`
        if node.inputs:
            layer[i] = 1 + max(layer[j] for j in node.inputs)
    first_user: dict[int, int] = {}
    for i, node in enumerate(nodes):
        for j in node.inputs:
            first_user[j] = min(first_user.get(j, layer[i]), layer[i])
    for i, node in enumerate(nodes):
        if not node.inputs and i in first_user:
            layer[i] = first_user[i] - 1
    return layer


def order_layers(nodes: list[Node], layer: list[int], sweeps: int = 4) -> tuple[list[list[int]], list[list[int]]]:
    """Each layer's nodes left to right, and every edge as a path of ids through waypoints.

    Waypoints (ids >= len(nodes)) carry an edge across the layers it skips. Barycenter
    heuristic: sort a layer by the mean position of its neighbours in the layer above (downward
    sweep), then below (upward sweep); keep the ordering with the fewest crossings.
    """
    rows: list[list[int]] = [[] for _ in range(max(layer) + 1)]
    for i in range(len(nodes)):
        rows[layer[i]].append(i)
    paths = _paths_through_waypoints(nodes, layer, rows)
    up: dict[int, list[int]] = {}
    down: dict[int, list[int]] = {}
    for path in paths:
        for a, b in zip(path, path[1:]):
            down.setdefault(a, []).append(b)
            up.setdefault(b, []).append(a)
    best, best_crossings = [list(r) for r in rows], _crossings(rows, down)
    for _ in range(sweeps):
        for r in range(1, len(rows)):
            _sort_by_barycenter(rows[r], rows[r - 1], up)
        for r in range(len(rows) - 2, -1, -1):
            _sort_by_barycenter(rows[r], rows[r + 1], down)
        crossings = _crossings(rows, down)
        if crossings < best_crossings:
            best, best_crossings = [list(r) for r in rows], crossings
    return best, paths


def _paths_through_waypoints(nodes: list[Node], layer: list[int], rows: list[list[int]]) -> list[list[int]]:
    """Every input link as a path [input, waypoint, ..., op]; new waypoints are added to `rows`."""
    paths, next_id = [], len(nodes)
    for i, node in enumerate(nodes):
        for j in node.inputs:
            path = [j]
            for r in range(layer[j] + 1, layer[i]):  # one waypoint per skipped layer
                rows[r].append(next_id)
                path.append(next_id)
                next_id += 1
            paths.append(path + [i])
    return paths


def _sort_by_barycenter(row: list[int], fixed: list[int], neighbours: dict[int, list[int]]) -> None:
    position = {v: k for k, v in enumerate(fixed)}

    def key(k_v: tuple[int, int]) -> float:
        k, v = k_v
        ps = [position[u] for u in neighbours.get(v, []) if u in position]
        return sum(ps) / len(ps) if ps else k * len(fixed) / max(len(row), 1)  # no neighbour: stay put

    row[:] = [v for _, v in sorted(enumerate(row), key=key)]


def _crossings(rows: list[list[int]], down: dict[int, list[int]]) -> int:
    total = 0
    for r in range(len(rows) - 1):
        pos_a = {v: k for k, v in enumerate(rows[r])}
        pos_b = {v: k for k, v in enumerate(rows[r + 1])}
        edges = [(pos_a[a], pos_b[b]) for a in rows[r] for b in down.get(a, []) if b in pos_b]
        total += sum(1 for k, (a1, b1) in enumerate(edges) for a2, b2 in edges[k + 1:]
                     if (a1 - a2) * (b1 - b2) < 0)
    return total


def positions(rows: list[list[int]], paths: list[list[int]], n_nodes: int, rounds: int = 8) -> dict[int, float]:
    """x of every node and waypoint: start packed, then pull each toward its neighbours' mean.

    Widths: a node takes 1 unit, a waypoint 0.25; order within a layer never changes.
    """
    width = lambda v: 1.0 if v < n_nodes else 0.25  # noqa: E731
    neighbours: dict[int, list[int]] = {}
    for path in paths:
        for a, b in zip(path, path[1:]):
            neighbours.setdefault(a, []).append(b)
            neighbours.setdefault(b, []).append(a)
    ends = {w: (p[0], p[-1], k / (len(p) - 1)) for p in paths for k, w in enumerate(p[1:-1], 1)}
    x: dict[int, float] = {}
    for row in rows:
        x.update(zip(row, _pack(row, [0.0] * len(row), width)))
    for _ in range(rounds):
        for row in rows:
            want = [_wanted(v, x, neighbours, ends) for v in row]
            x.update(zip(row, _pack(row, want, width)))
    for path in paths:
        _straighten(path[1:-1], rows, x, width)
    return x


def _straighten(chain: list[int], rows: list[list[int]], x: dict[int, float], width) -> None:
    """Put a long edge's waypoints on one vertical line, if one fits between their row neighbours."""
    if not chain:
        return
    low, high = float("-inf"), float("inf")
    for row in rows:
        for k, v in enumerate(row):
            if v in chain:
                if k > 0:
                    low = max(low, x[row[k - 1]] + 0.5 * (width(row[k - 1]) + width(v)) + 0.15)
                if k + 1 < len(row):
                    high = min(high, x[row[k + 1]] - 0.5 * (width(row[k + 1]) + width(v)) - 0.15)
    if low <= high:
        mean = sum(x[v] for v in chain) / len(chain)
        x.update((v, min(max(mean, low), high)) for v in chain)


def _wanted(v: int, x: dict[int, float], neighbours: dict[int, list[int]], ends: dict) -> float:
    """A waypoint wants the straight line between its edge's ends; a node its neighbours' mean."""
    if v in ends:
        a, b, t = ends[v]
        return (1 - t) * x[a] + t * x[b]
    return sum(x[u] for u in neighbours[v]) / len(neighbours[v]) if v in neighbours else x[v]


def _pack(row: list[int], want: list[float], width) -> list[float]:
    """Positions as close to `want` as the row's order and spacing allow (a forward, then backward pass)."""
    gap = [0.5 * (width(a) + width(b)) + 0.15 for a, b in zip(row, row[1:])]
    xs = list(want)
    for k in range(1, len(xs)):
        xs[k] = max(xs[k], xs[k - 1] + gap[k - 1])
    shift = sum(w - v for w, v in zip(want, xs)) / max(len(xs), 1)  # recentre on what was wanted
    xs = [v + shift for v in xs]
    for k in range(len(xs) - 2, -1, -1):
        xs[k] = min(xs[k], xs[k + 1] - gap[k])
    return xs


# -- drawing ----------------------------------------------------------------------------------------


def draw_graph(tensor: Tensor, path: str, names: Module | Mapping[str, Tensor] | None = None,
               title: str | None = None, dpi: int = 110) -> Figure:
    """Write the graph that produced `tensor` as a PNG at `path` (call before backward()); returns the figure.

    names: a Module (its parameters' names) or a dict name -> Tensor, which may name leaves and
    intermediate tensors alike."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # no pyplot: no global state
    from matplotlib.figure import Figure

    nodes = collect(tensor, names)
    layer = layers_of(nodes)
    rows, paths = order_layers(nodes, layer)
    x = positions(rows, paths, len(nodes))
    y = {v: -float(r) for r, row in enumerate(rows) for v in row}
    span = max(x.values()) - min(x.values()) + 1.0
    width, height = max(6.0, 1.75 * span), max(4.0, 0.8 * len(rows) + 1.0)  # inches for the graph itself
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    legend_height = _legend_below(fig)  # a strip of its own under the graph: it covers no box
    title_height = 0.45 if title else 0.05
    total = height + legend_height + title_height
    fig.set_size_inches(width, total)
    ax = fig.add_axes((0.01, legend_height / total, 0.98, height / total))
    ax.set_xlim(min(x.values()) - 0.6, max(x.values()) + 0.6)
    ax.set_ylim(-len(rows) + 0.5, 0.5)
    ax.axis("off")
    boxes = {}
    for i, node in enumerate(nodes):
        style = "round,pad=0.3" if node.kind == "op" else "round4,pad=0.3"
        boxes[i] = ax.text(x[i], y[i], node_text(node), ha="center", va="center", fontsize=7.5, zorder=3,
                           bbox=dict(boxstyle=style, fc=COLORS[node.kind], ec="#555555", lw=0.8))
    for p in paths:
        _draw_edge(ax, [(x[v], y[v]) for v in p], boxes[p[0]], boxes[p[-1]])  # after the boxes: clipped to them
    if title:
        fig.suptitle(title, fontsize=11, y=1 - 0.08 / total)  # in the strip above the graph
    fig.savefig(path, dpi=dpi)
    return fig


def _legend_below(fig: Figure) -> float:
    """The colour key at the bottom of the figure, in one row if it fits, else two; returns its height (inches)."""
    from matplotlib.patches import Patch

    handles = [Patch(fc=COLORS[k], ec="#555555", label=KIND_TEXT[k]) for k in COLORS]
    renderer = fig.canvas.get_renderer()

    def legend(ncol: int):
        return fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=ncol, fontsize=8,
                          frameon=False)

    key = legend(len(handles))
    if key.get_window_extent(renderer).width > 0.98 * fig.bbox.width:  # too wide for one row
        key.remove()
        key = legend(2)
    return key.get_window_extent(renderer).height / fig.dpi + 0.1


def _draw_edge(ax, points: list[tuple[float, float]], start, end) -> None:
    """A polyline through the waypoints, with an arrowhead at the op that uses the input."""
    line = dict(color="#666666", lw=0.8, zorder=1)
    if len(points) > 2:
        xs, ys = zip(*points[1:-1])
        ax.plot([points[0][0], *xs], [points[0][1], *ys], **line)
    a = points[-2]
    ax.annotate("", xy=points[-1], xytext=a, zorder=4, arrowprops=dict(
        arrowstyle="-|>", color=line["color"], lw=line["lw"], shrinkA=0, shrinkB=0,
        patchA=start.get_bbox_patch() if len(points) == 2 else None, patchB=end.get_bbox_patch()))
