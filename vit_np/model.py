"""The tutorial's Vision Transformer on minigrad, read top to bottom like nanoGPT's model.py.

Class names, attribute names and therefore state_dict names are those of the tutorial's PyTorch
model (tintn/vision-transformer-from-scratch, vit.py), so its checkpoints load here with
`model.load_state_dict({k: v.numpy() for k, v in torch_sd.items()})` and go back with
`{k: torch.from_numpy(v) for k, v in model.state_dict().items()}`.

Shapes: B batch, C hidden_size, N = (image_size / patch_size)^2 patches, T = N + 1 tokens
([CLS] first), nh heads, hs = C / nh head size. `model(x, output_attentions=True)` returns
`(logits, attentions)`: attentions is a list with one (B, nh, T, T) Tensor of attention
probabilities per block (as applied to the values, i.e. after attention dropout), detached
from the graph; it is None when output_attentions is False.
"""
from __future__ import annotations

import math
import numbers
import os
from typing import Any

import numpy as np

import minigrad as mg
import minigrad.functional as F
from minigrad import nn
from minigrad.random import default_generator
from minigrad.tensor import Tensor
from vit_np import checkpoint
from vit_np.config import ViTConfig, as_config

Attentions = list[Tensor] | None


class NewGELUActivation(nn.Module):
    """y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)));  any shape -> same."""

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, approximate="tanh")


class PatchEmbeddings(nn.Module):
    """Cut the image into P x P patches and project each to C: (B, ch, H, W) -> (B, N, C)."""

    def __init__(self, config: ViTConfig):
        super().__init__()
        self.num_patches = config.num_patches
        p = config.patch_size  # kernel = stride = P: each patch is seen once, a patchify + matmul
        self.projection = nn.Conv2d(config.num_channels, config.hidden_size, kernel_size=p, stride=p)

    def forward(self, x: Tensor) -> Tensor:
        x = self.projection(x)  # (B, ch, H, W) -> (B, C, H/P, W/P)
        return x.flatten(2).transpose(1, 2)  # (B, C, H/P, W/P) -> (B, C, N) -> (B, N, C)


class PatchDropout(nn.Module):
    """Training: keep [CLS] and a random int(N (1 - p)) of each image's N patch tokens, in their order;
    eval: y = x.  (B, 1 + N, C) -> (B, 1 + kept, C).

    timm's PatchDropout (Liu et al. 2022, "PatchDropout: Economizing Vision Transformers"): the
    position embeddings are already added, so a kept token still knows where it came from, and every
    block after it does less work. The gradient of a left-out token is zero (x[rows, cols] is GetItem).
    """

    def __init__(self, p: float = 0.0):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p < 1.0:
            raise ValueError(f"PatchDropout: p (the share of patch tokens left out) must be in [0, 1), got {p!r}")
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        B, T, _ = x.shape
        keep = max(1, int((T - 1) * (1.0 - self.p)))
        noise = default_generator().random((B, T - 1))  # the generator dropout draws from
        cols = 1 + np.sort(np.argsort(noise, axis=1)[:, :keep], axis=1)  # (B, keep) patch positions, [CLS] is 0
        cols = np.concatenate([np.zeros((B, 1), dtype=cols.dtype), cols], axis=1)  # (B, 1 + keep)
        return x[np.arange(B)[:, None], cols]  # (B, T, C) -> (B, 1 + keep, C)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Embeddings(nn.Module):
    """x = [cls; patches(img)] + pos, then dropout (and PatchDropout);  (B, ch, H, W) -> (B, T, C)."""

    def __init__(self, config: ViTConfig):
        super().__init__()
        self.patch_embeddings = PatchEmbeddings(config)
        C, T = config.hidden_size, config.num_patches + 1
        self.cls_token = nn.Parameter(np.zeros((1, 1, C), dtype=np.float32))  # filled by _init_weights
        self.position_embeddings = nn.Parameter(np.zeros((1, T, C), dtype=np.float32))  # learned, one per token
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.patch_dropout = PatchDropout(config.patch_drop_rate)  # off (p = 0) unless the config asks

    def forward(self, x: Tensor) -> Tensor:
        x = self.patch_embeddings(x)  # (B, ch, H, W) -> (B, N, C)
        cls_tokens = self.cls_token.expand(x.shape[0], -1, -1)  # (1, 1, C) -> (B, 1, C)
        x = mg.cat([cls_tokens, x], dim=1)  # (B, 1, C) + (B, N, C) -> (B, T, C)
        x = x + self.position_embeddings  # (B, T, C) + (1, T, C) -> (B, T, C)
        return self.patch_dropout(self.dropout(x))  # training with patch_drop_rate > 0: fewer tokens


class AttentionHead(nn.Module):
    """One head: softmax(q k^T / sqrt(hs)) v, q = x Wq^T (+ bq), ...;  (B, T, C) -> (B, T, hs), (B, T, T)."""

    def __init__(self, hidden_size: int, attention_head_size: int, dropout: float, bias: bool = True):
        super().__init__()
        self.attention_head_size = attention_head_size
        self.query = nn.Linear(hidden_size, attention_head_size, bias=bias)
        self.key = nn.Linear(hidden_size, attention_head_size, bias=bias)
        self.value = nn.Linear(hidden_size, attention_head_size, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        query, key, value = self.query(x), self.key(x), self.value(x)  # (B, T, C) -> 3 x (B, T, hs)
        scores = query @ key.transpose(-1, -2)  # (B, T, hs) @ (B, hs, T) -> (B, T, T)
        scores = scores / math.sqrt(self.attention_head_size)
        probs = self.dropout(F.softmax(scores, dim=-1))  # each row sums to 1 (before dropout)
        return probs @ value, probs  # (B, T, T) @ (B, T, hs) -> (B, T, hs)


class MultiHeadAttention(nn.Module):
    """The clear version: nh AttentionHeads, outputs concatenated, then projected;  (B, T, C) -> (B, T, C)."""

    def __init__(self, config: ViTConfig):
        super().__init__()
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = config.attention_head_size
        self.all_head_size = self.num_attention_heads * self.attention_head_size
        self.heads = nn.ModuleList([
            AttentionHead(config.hidden_size, self.attention_head_size,
                          config.attention_probs_dropout_prob, config.qkv_bias)
            for _ in range(self.num_attention_heads)
        ])
        self.output_projection = nn.Linear(self.all_head_size, config.hidden_size)
        self.output_dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, x: Tensor, output_attentions: bool = False) -> tuple[Tensor, Tensor | None]:
        outputs = [head(x) for head in self.heads]  # nh x ((B, T, hs), (B, T, T))
        out = mg.cat([o for o, _ in outputs], dim=-1)  # nh x (B, T, hs) -> (B, T, nh*hs), head order
        out = self.output_dropout(self.output_projection(out))  # (B, T, nh*hs) -> (B, T, C)
        if not output_attentions:
            return out, None
        probs = mg.stack([p.detach() for _, p in outputs], dim=1)  # nh x (B, T, T) -> (B, nh, T, T)
        return out, probs


class FasterMultiHeadAttention(nn.Module):
    """The fused version: one qkv_projection, all heads in one attention op;  (B, T, C) -> (B, T, C).

    Same function as MultiHeadAttention: q, k, v are the consecutive thirds of qkv_projection's
    output, and head h owns columns h*hs:(h+1)*hs of each third.
    """

    def __init__(self, config: ViTConfig):
        super().__init__()
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = config.attention_head_size
        self.all_head_size = self.num_attention_heads * self.attention_head_size
        self.qkv_projection = nn.Linear(config.hidden_size, 3 * self.all_head_size, bias=config.qkv_bias)
        self.attn_dropout = nn.Dropout(config.attention_probs_dropout_prob)  # applied inside the fused op
        self.output_projection = nn.Linear(self.all_head_size, config.hidden_size)
        self.output_dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, x: Tensor, output_attentions: bool = False) -> tuple[Tensor, Tensor | None]:
        B, T, _ = x.shape
        nh, hs = self.num_attention_heads, self.attention_head_size
        qkv = self.qkv_projection(x)  # (B, T, C) -> (B, T, 3*nh*hs)
        query, key, value = qkv.chunk(3, dim=-1)  # (B, T, 3*nh*hs) -> 3 x (B, T, nh*hs)
        query = query.view(B, T, nh, hs).transpose(1, 2)  # (B, T, nh*hs) -> (B, nh, T, hs)
        key = key.view(B, T, nh, hs).transpose(1, 2)  # (B, T, nh*hs) -> (B, nh, T, hs)
        value = value.view(B, T, nh, hs).transpose(1, 2)  # (B, T, nh*hs) -> (B, nh, T, hs)
        if output_attentions:  # the maps need the probabilities: the tutorial's own steps
            out, probs = F.attention_composed(query, key, value, self.attn_dropout.p, self.attn_dropout.training)
            probs = probs.detach()  # (B, nh, T, T)
        else:  # the same function as one op: softmax(q k^T / sqrt(hs)) v, dropout on the probabilities
            p = self.attn_dropout.p if self.attn_dropout.training else 0.0  # the Dropout module decides
            out, probs = F.scaled_dot_product_attention(query, key, value, dropout_p=p), None  # (B, nh, T, hs)
        # transpose back before view: viewing (B, nh, T, hs) as (B, T, nh*hs) directly mixes tokens across heads
        out = out.transpose(1, 2).contiguous().view(B, T, nh * hs)  # (B, nh, T, hs) -> (B, T, nh*hs)
        out = self.output_dropout(self.output_projection(out))  # (B, T, nh*hs) -> (B, T, C)
        return out, probs


class MLP(nn.Module):
    """y = dropout(W2 gelu(W1 x + b1) + b2);  (B, T, C) -> (B, T, C)."""

    def __init__(self, config: ViTConfig):
        super().__init__()
        self.dense_1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.activation = NewGELUActivation()
        self.dense_2 = nn.Linear(config.intermediate_size, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, x: Tensor) -> Tensor:
        x = self.activation(self.dense_1(x))  # (B, T, C) -> (B, T, 4C)
        return self.dropout(self.dense_2(x))  # (B, T, 4C) -> (B, T, C)


class Block(nn.Module):
    """Pre-norm block: x += attn(ln1(x)); x += mlp(ln2(x));  (B, T, C) -> (B, T, C)."""

    def __init__(self, config: ViTConfig):
        super().__init__()
        self.use_faster_attention = config.use_faster_attention
        attention = FasterMultiHeadAttention if config.use_faster_attention else MultiHeadAttention
        self.attention = attention(config)
        self.layernorm_1 = nn.LayerNorm(config.hidden_size)
        self.mlp = MLP(config)
        self.layernorm_2 = nn.LayerNorm(config.hidden_size)

    def forward(self, x: Tensor, output_attentions: bool = False) -> tuple[Tensor, Tensor | None]:
        attention_output, probs = self.attention(self.layernorm_1(x), output_attentions=output_attentions)
        x = x + attention_output  # skip connection
        x = x + self.mlp(self.layernorm_2(x))  # skip connection
        return x, probs


class Encoder(nn.Module):
    """num_hidden_layers Blocks in sequence;  (B, T, C) -> (B, T, C), and each block's (B, nh, T, T)."""

    def __init__(self, config: ViTConfig):
        super().__init__()
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.num_hidden_layers)])

    def forward(self, x: Tensor, output_attentions: bool = False) -> tuple[Tensor, Attentions]:
        all_attentions = []
        for block in self.blocks:
            x, probs = block(x, output_attentions=output_attentions)
            all_attentions.append(probs)
        return x, all_attentions if output_attentions else None


class ViTForClassification(nn.Module):
    """logits = classifier(encoder(embedding(x))[:, 0]);  (B, ch, H, W) -> (B, num_classes).

    With config.final_layernorm, logits = classifier(layernorm(encoder(embedding(x))[:, 0])), as in
    the ViT paper (the tutorial has no LayerNorm there; off by default).
    """

    def __init__(self, config: ViTConfig | dict[str, Any] | None = None):
        super().__init__()
        self.config = as_config(ViTConfig() if config is None else config)
        self.embedding = Embeddings(self.config)
        self.encoder = Encoder(self.config)
        self.layernorm = nn.LayerNorm(self.config.hidden_size) if self.config.final_layernorm else None
        self.classifier = nn.Linear(self.config.hidden_size, self.config.num_classes)
        self.apply(self._init_weights)

    def forward(self, x: Tensor | np.ndarray, output_attentions: bool = False) -> tuple[Tensor, Attentions]:
        x = self._check_input(x)
        embedding_output = self.embedding(x)  # (B, ch, H, W) -> (B, T, C)
        if self.config.cls_only_last_block and not output_attentions:  # a speed option, off by default: below
            encoder_output, all_attentions = encode_for_cls(self.encoder, embedding_output), None  # (B, 1, C)
        else:
            encoder_output, all_attentions = self.encoder(embedding_output, output_attentions)  # (B, T, C)
        cls_output = encoder_output[:, 0, :]  # [CLS] row: (B, T, C) -> (B, C)
        if self.layernorm is not None:
            cls_output = self.layernorm(cls_output)
        logits = self.classifier(cls_output)  # (B, C) -> (B, classes)
        return logits, all_attentions

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, allow_large: bool = False) -> ViTForClassification:
        """The ViT saved in a best.npz / checkpoint.npz of vit_np.train (or a file of examples/pretrained),
        rebuilt from the model config stored beside its weights.

        The file is untrusted: a damaged or foreign one, or weights that do not fit its config, raise one
        vit_np.checkpoint.CheckpointError naming the file and the fault; a config beyond the size bounds of
        vit_np.checkpoint (a few bytes of JSON can ask for terabytes) is refused unless allow_large."""
        state = checkpoint.read(path)  # allow_pickle=False: a file cannot run code
        config = checkpoint.model_config(state, path, allow_large)
        weights = checkpoint.entry(state, "model", dict, path)
        model = cls(config)
        checkpoint.check_arrays(weights, model.state_dict(), "model", path)
        model.load_state_dict(weights)
        return model

    def _check_input(self, x: Tensor | np.ndarray) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
        c, s = self.config.num_channels, self.config.image_size
        if x.ndim != 4 or x.shape[1:] != (c, s, s):
            raise ValueError(f"{type(self).__name__}: expected input (B, {c}, {s}, {s}), got {x.shape}")
        dtype = self.classifier.weight.dtype
        if x.dtype != dtype:
            raise TypeError(f"{type(self).__name__}: input has dtype {x.dtype} but the model is {dtype} "
                            f"(convert one: x.astype(np.{dtype}) or model.float()/.double())")
        return x

    def _init_weights(self, module: nn.Module) -> None:
        """The tutorial's init: N(0, r) weights, zero biases, LayerNorm 1/0, trunc-normal cls/pos."""
        std = self.config.initializer_range
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.zeros_(module.bias)
            nn.init.ones_(module.weight)
        elif isinstance(module, Embeddings):
            nn.init.trunc_normal_(module.position_embeddings, mean=0.0, std=std)  # cut at +-2 (absolute)
            nn.init.trunc_normal_(module.cls_token, mean=0.0, std=std)


ViTForClassfication = ViTForClassification  # the tutorial's spelling, kept so its code runs unchanged


# -- converting between the two attention variants' state dicts ------------------------------------


# -- a speed option, not in the tutorial: the last block for [CLS] alone ------------------------------


def encode_for_cls(encoder: Encoder, x: Tensor) -> Tensor:
    """The encoder's output for the [CLS] token alone, all the classifier reads: (B, T, C) -> (B, 1, C).

    Every block but the last runs in full; in the last, every token is still a key and a value, but only
    [CLS] asks, takes the skip connections and the MLP. The same logits and gradients as Encoder.forward for
    about a fifth less work (ViTConfig.cls_only_last_block turns it on)."""
    for block in encoder.blocks[:-1]:
        x, _ = block(x)
    last = encoder.blocks[-1]
    h = last.layernorm_1(x)  # (B, T, C)
    x = x[:, :1] + _attention_for_cls(last.attention, h)  # (B, 1, C): skip connection
    return x + last.mlp(last.layernorm_2(x))  # skip connection


def _attention_for_cls(attention: MultiHeadAttention | FasterMultiHeadAttention, h: Tensor) -> Tensor:
    """The attention module's output for the first token only: (B, T, C) -> (B, 1, C)."""
    B, T, _ = h.shape
    if isinstance(attention, MultiHeadAttention):  # per head: [CLS]'s query against every key
        outs = []
        for head in attention.heads:
            scores = head.query(h[:, :1]) @ head.key(h).transpose(-1, -2)  # (B, 1, hs) @ (B, hs, T) -> (B, 1, T)
            probs = head.dropout(F.softmax(scores / math.sqrt(head.attention_head_size), dim=-1))
            outs.append(probs @ head.value(h))  # (B, 1, T) @ (B, T, hs) -> (B, 1, hs)
        return attention.output_dropout(attention.output_projection(mg.cat(outs, dim=-1)))  # (B, 1, C)
    nh, hs = attention.num_attention_heads, attention.attention_head_size
    _, key, value = attention.qkv_projection(h).chunk(3, dim=-1)  # 2 x (B, T, nh*hs)
    query = attention.qkv_projection(h[:, :1]).chunk(3, dim=-1)[0]  # [CLS]'s own: (B, 1, nh*hs)
    query = query.view(B, 1, nh, hs).transpose(1, 2)  # (B, 1, nh*hs) -> (B, nh, 1, hs)
    key, value = (t.view(B, T, nh, hs).transpose(1, 2) for t in (key, value))  # -> 2 x (B, nh, T, hs)
    p = attention.attn_dropout.p if attention.attn_dropout.training else 0.0
    out = F.scaled_dot_product_attention(query, key, value, dropout_p=p)  # (B, nh, 1, hs)
    out = out.transpose(1, 2).contiguous().view(B, 1, nh * hs)  # (B, nh, 1, hs) -> (B, 1, nh*hs)
    return attention.output_dropout(attention.output_projection(out))  # (B, 1, C)


def fused_to_per_head_state_dict(state_dict: dict[str, Any],
                                 config: ViTConfig | dict[str, Any]) -> dict[str, np.ndarray]:
    """qkv_projection (3*C, C) -> heads.h.{query,key,value} (hs, C): rows j*C + h*hs ... j*C + (h+1)*hs - 1.

    j = 0, 1, 2 for query, key, value (the tutorial's chunk into thirds), h the head (its view).
    """
    config = as_config(config)
    nh = config.num_attention_heads
    out = {k: np.asarray(v) for k, v in state_dict.items() if ".attention.qkv_projection." not in k}
    for i in range(config.num_hidden_layers):
        prefix = f"encoder.blocks.{i}.attention."
        for kind in ("weight", "bias") if config.qkv_bias else ("weight",):
            fused = np.asarray(_lookup(state_dict, prefix + "qkv_projection." + kind))
            for name, third in zip(("query", "key", "value"), np.split(fused, 3)):  # (3*C, ...) -> 3 x (C, ...)
                for h, rows in enumerate(np.split(third, nh)):  # (C, ...) -> nh x (hs, ...)
                    out[f"{prefix}heads.{h}.{name}.{kind}"] = rows.copy()
    return out


def per_head_to_fused_state_dict(state_dict: dict[str, Any],
                                 config: ViTConfig | dict[str, Any]) -> dict[str, np.ndarray]:
    """The inverse: stack the heads' query rows, then key rows, then value rows into qkv_projection."""
    config = as_config(config)
    nh = config.num_attention_heads
    out = {k: np.asarray(v) for k, v in state_dict.items() if ".attention.heads." not in k}
    for i in range(config.num_hidden_layers):
        prefix = f"encoder.blocks.{i}.attention."
        for kind in ("weight", "bias") if config.qkv_bias else ("weight",):
            parts = [np.asarray(_lookup(state_dict, f"{prefix}heads.{h}.{name}.{kind}"))
                     for name in ("query", "key", "value") for h in range(nh)]
            out[prefix + "qkv_projection." + kind] = np.concatenate(parts)  # 3*nh x (hs, ...) -> (3*C, ...)
    return out


def _lookup(state_dict: dict[str, Any], key: str) -> Any:
    if key not in state_dict:
        raise KeyError(f"state dict conversion: missing key {key!r} (does the config match the checkpoint?)")
    return state_dict[key]
