"""The tutorial's ViT on PyTorch, the twin that tests and examples/benchmark.py hold vit_np's model against.

Its classes are vit_np/tutorial_code.py's run with PyTorch (vit_np.tutorial.load("torch")): the same
attribute names, layer order, dropout placement and `_init_weights`, so its state_dict names and shapes
are the ones vit_np/model.py must reproduce. Configured by the tutorial's plain dict. Importing this
module imports torch; nothing else in vit_np imports it.
"""
from __future__ import annotations

import contextlib
import io

from torch import nn

from vit_np.tutorial import load

with contextlib.redirect_stdout(io.StringIO()):  # the post's cells print the device and the parameter count
    tutorial = load("torch")


class ViTForClassfication(tutorial.ViTForClassfication):  # sic: the tutorial's spelling
    """The tutorial's model; config["final_layernorm"] (vit_np's option, not the tutorial's) adds the ViT
    paper's LayerNorm on the [CLS] output before the classifier, as vit_np/model.py does."""

    def __init__(self, config: dict):
        super().__init__(config)
        self.layernorm = nn.LayerNorm(config["hidden_size"]) if config.get("final_layernorm") else None

    def forward(self, x, output_attentions: bool = False):
        if self.layernorm is None:
            return super().forward(x, output_attentions=output_attentions)
        encoder_output, all_attentions = self.encoder(self.embedding(x), output_attentions=output_attentions)
        logits = self.classifier(self.layernorm(encoder_output[:, 0, :]))  # (B, T, C) -> (B, C) -> (B, classes)
        return (logits, all_attentions)
