"""One ViT block, drawn and traced: its computation graph as a PNG, its backward pass as text.

    python examples/draw_vit_block.py                 # -> examples/figures/graph_vit_block.png
                                                      #    examples/figures/trace_vit_block.txt
    python examples/draw_vit_block.py --per-head      # the clear MultiHeadAttention instead

A tiny block (C = 8, 2 heads, MLP 8 -> 32 -> 8, eval mode so no dropout) on x of shape
(B=1, T=5, C=8), recorded in reference mode (the Functions of minigrad/ops and minigrad/functional,
not the kernels). The graph is drawn before backward(), which frees it.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import minigrad as mg
from vit_np.config import ViTConfig
from vit_np.model import Block


def build(per_head: bool, seed: int = 0) -> tuple[Block, mg.Tensor, mg.Tensor]:
    """The block, its input x (1, 5, 8) and its output, with the graph recorded."""
    mg.manual_seed(seed)
    config = ViTConfig(hidden_size=8, num_attention_heads=2, intermediate_size=32,
                       use_faster_attention=not per_head)
    block = Block(config).eval()
    x = mg.Tensor(np.random.default_rng(seed).standard_normal((1, 5, 8)).astype(np.float32), requires_grad=True)
    out, _ = block(x)  # (1, 5, 8) -> (1, 5, 8)
    return block, x, out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default=str(Path(__file__).parent / "figures"))
    parser.add_argument("--per-head", action="store_true", help="one module per head (use_faster_attention=False)")
    args = parser.parse_args(argv)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with mg.reference():  # the ops a learner reads, forward and backward
        block, x, out = build(args.per_head)
    names = {**dict(block.named_parameters()), "x": x}
    mg.viz.draw_graph(out, str(out_dir / "graph_vit_block.png"), names=names,
                      title="One ViT block (x: (1, 5, 8)); edges go from an input to the op that uses it")
    dout = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)  # a random dL/d out
    with open(out_dir / "trace_vit_block.txt", "w") as f, mg.trace(file=f, names=names):
        out.backward(dout)
    print(f"wrote {out_dir / 'graph_vit_block.png'} and {out_dir / 'trace_vit_block.txt'}")


if __name__ == "__main__":
    main()
