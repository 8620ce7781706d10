"""ViTConfig: the tutorial's config dict as a dataclass, checked when it is built.

The field names are the tutorial's dict keys, so its config converts both ways:

    config = ViTConfig.from_dict(tutorial_config)      # unknown keys are an error
    tutorial_config = config.to_dict()

Three fields are not the tutorial's, each off by default and never read by the tutorial's code:
patch_drop_rate (PatchDropout), final_layernorm and cls_only_last_block (a speed option). The defaults are the tutorial's tiny CIFAR-10 model (119,098
parameters) with dropout 0.1. Each field is declared once, with its help text:
examples/train_cifar.py makes a flag of each (`--hidden-size`, `--num-hidden-layers`, ...), and a
resumed run must keep every one.
"""
from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from typing import Any

from vit_np.settings import FREE, setting

_POSITIVE_INTS = ("patch_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                  "intermediate_size", "image_size", "num_classes", "num_channels")
_PROBABILITIES = ("hidden_dropout_prob", "attention_probs_dropout_prob", "patch_drop_rate")
_BOOLS = ("qkv_bias", "use_faster_attention", "final_layernorm", "cls_only_last_block")


@dataclass
class ViTConfig:
    patch_size: int = setting(4, "P: side of the square patches the image is cut into (pixels)")
    hidden_size: int = setting(48, "C: width of every token vector")
    num_hidden_layers: int = setting(4, "number of transformer Blocks in the Encoder")
    num_attention_heads: int = setting(4, "nh: heads per attention layer; head size hs = C / nh")
    intermediate_size: int = setting(4 * 48, "width of the MLP's hidden layer (the tutorial's 4 C)")
    hidden_dropout_prob: float = setting(0.1, "dropout on embeddings, attention output and MLP output")
    attention_probs_dropout_prob: float = setting(0.1, "dropout on the attention probabilities")
    initializer_range: float = setting(0.02, "std of the normal (and truncated normal) initial weights")
    image_size: int = setting(32, "side of the square input image (pixels); CIFAR-10 is 32", flag=False)
    num_classes: int = setting(10, "number of logits the classifier produces", flag=False)
    num_channels: int = setting(3, "colour channels of the input image", flag=False)
    qkv_bias: bool = setting(True, "whether query/key/value projections have a bias")
    use_faster_attention: bool = setting(True, "fused qkv_projection (True) or one module per head (False)")
    patch_drop_rate: float = setting(0.0, "training only: share of each image's patch tokens left out of the "
                                     "encoder (PatchDropout; not in the tutorial); evaluation sees every patch")
    final_layernorm: bool = setting(False, "a LayerNorm on the encoder's [CLS] output before the classifier, the "
                                    "ViT paper's y = LN(z_L^0) (not in the tutorial)")
    cls_only_last_block: bool = setting(False, "speed, not in the tutorial: without attention maps, the last block "
                                        "computes the [CLS] token alone (the same logits and gradients, about a "
                                        "fifth less work; vit_np.model.encode_for_cls)", resume=FREE)

    def __post_init__(self) -> None:
        self.validate()

    # -- derived sizes -------------------------------------------------------------------------
    @property
    def num_patches(self) -> int:
        """N = (image_size / patch_size)^2 patch tokens per image."""
        return (self.image_size // self.patch_size) ** 2

    @property
    def attention_head_size(self) -> int:
        """hs = hidden_size / num_attention_heads."""
        return self.hidden_size // self.num_attention_heads

    # -- checks and conversion -----------------------------------------------------------------
    def validate(self) -> None:
        """Raise ValueError naming the first field that breaks its rule."""
        for name in _POSITIVE_INTS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
                raise ValueError(f"ViTConfig: {name} must be a positive integer, got {value!r}")
        for name in _PROBABILITIES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
                raise ValueError(f"ViTConfig: {name} is a dropout probability and must be in [0, 1), got {value!r}")
        for name in _BOOLS:
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"ViTConfig: {name} must be True or False, got {getattr(self, name)!r}")
        r = self.initializer_range
        if isinstance(r, bool) or not isinstance(r, numbers.Real) or not r > 0:
            raise ValueError(f"ViTConfig: initializer_range (a standard deviation) must be > 0, got {r!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"ViTConfig: hidden_size ({self.hidden_size}) must be divisible by "
                             f"num_attention_heads ({self.num_attention_heads})")
        if self.image_size % self.patch_size:
            raise ValueError(f"ViTConfig: image_size ({self.image_size}) must be divisible by "
                             f"patch_size ({self.patch_size})")

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> ViTConfig:
        """The tutorial's config dict -> ViTConfig; missing keys take the defaults."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = [k for k in config if k not in known]
        if unknown:
            raise ValueError(f"ViTConfig: unknown config key(s) {', '.join(map(repr, unknown))}; "
                             f"known keys are {', '.join(sorted(known))}")
        return cls(**config)

    def to_dict(self) -> dict[str, Any]:
        """ViTConfig -> the tutorial's config dict."""
        return dataclasses.asdict(self)


def as_config(config: ViTConfig | dict[str, Any]) -> ViTConfig:
    """Accept either form; a ViTConfig is copied (and so checked again: its fields may have changed)."""
    if isinstance(config, ViTConfig):
        return dataclasses.replace(config)
    if isinstance(config, dict):
        return ViTConfig.from_dict(config)
    raise TypeError(f"ViT: config must be a ViTConfig or a dict, got {type(config).__name__}")
