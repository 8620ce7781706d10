"""The PyTorch reference: the tutorial's ViT (tintn/vision-transformer-from-scratch, vit.py).

Same classes, attribute names, layer order, dropout placement and `_init_weights` as the
tutorial, so its state_dict names and shapes are the ones vit_np/model.py must reproduce.
Configured by the tutorial's plain dict. Used by tests/test_vit.py and examples/benchmark.py;
the only module of vit_np that needs torch (nothing else imports it).
"""
from __future__ import annotations

import math

import torch
from torch import nn


class NewGELUActivation(nn.Module):
    """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))"""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class PatchEmbeddings(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        self.num_patches = (config["image_size"] // config["patch_size"]) ** 2
        self.projection = nn.Conv2d(config["num_channels"], config["hidden_size"],
                                    kernel_size=config["patch_size"], stride=config["patch_size"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projection(x).flatten(2).transpose(1, 2)  # (B, C, H, W) -> (B, N, hidden)


class Embeddings(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        self.config = config
        self.patch_embeddings = PatchEmbeddings(config)
        self.cls_token = nn.Parameter(torch.randn(1, 1, config["hidden_size"]))
        self.position_embeddings = nn.Parameter(
            torch.randn(1, self.patch_embeddings.num_patches + 1, config["hidden_size"]))
        self.dropout = nn.Dropout(config["hidden_dropout_prob"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embeddings(x)
        cls_tokens = self.cls_token.expand(x.size(0), -1, -1)
        x = torch.cat((cls_tokens, x), dim=1)
        x = x + self.position_embeddings
        return self.dropout(x)


class AttentionHead(nn.Module):
    def __init__(self, hidden_size: int, attention_head_size: int, dropout: float, bias: bool = True):
        super().__init__()
        self.attention_head_size = attention_head_size
        self.query = nn.Linear(hidden_size, attention_head_size, bias=bias)
        self.key = nn.Linear(hidden_size, attention_head_size, bias=bias)
        self.value = nn.Linear(hidden_size, attention_head_size, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor):
        query, key, value = self.query(x), self.key(x), self.value(x)
        scores = torch.matmul(query, key.transpose(-1, -2)) / math.sqrt(self.attention_head_size)
        probs = self.dropout(nn.functional.softmax(scores, dim=-1))
        return (torch.matmul(probs, value), probs)


class MultiHeadAttention(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        self.num_attention_heads = config["num_attention_heads"]
        self.attention_head_size = config["hidden_size"] // self.num_attention_heads
        self.all_head_size = self.num_attention_heads * self.attention_head_size
        self.heads = nn.ModuleList([
            AttentionHead(config["hidden_size"], self.attention_head_size,
                          config["attention_probs_dropout_prob"], config["qkv_bias"])
            for _ in range(self.num_attention_heads)
        ])
        self.output_projection = nn.Linear(self.all_head_size, config["hidden_size"])
        self.output_dropout = nn.Dropout(config["hidden_dropout_prob"])

    def forward(self, x: torch.Tensor, output_attentions: bool = False):
        outputs = [head(x) for head in self.heads]
        out = torch.cat([o for o, _ in outputs], dim=-1)
        out = self.output_dropout(self.output_projection(out))
        if not output_attentions:
            return (out, None)
        return (out, torch.stack([p for _, p in outputs], dim=1))


class FasterMultiHeadAttention(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        self.num_attention_heads = config["num_attention_heads"]
        self.attention_head_size = config["hidden_size"] // self.num_attention_heads
        self.all_head_size = self.num_attention_heads * self.attention_head_size
        self.qkv_projection = nn.Linear(config["hidden_size"], self.all_head_size * 3, bias=config["qkv_bias"])
        self.attn_dropout = nn.Dropout(config["attention_probs_dropout_prob"])
        self.output_projection = nn.Linear(self.all_head_size, config["hidden_size"])
        self.output_dropout = nn.Dropout(config["hidden_dropout_prob"])

    def forward(self, x: torch.Tensor, output_attentions: bool = False):
        qkv = self.qkv_projection(x)
        query, key, value = torch.chunk(qkv, 3, dim=-1)
        B, T, _ = query.size()
        nh, hs = self.num_attention_heads, self.attention_head_size
        query = query.view(B, T, nh, hs).transpose(1, 2)
        key = key.view(B, T, nh, hs).transpose(1, 2)
        value = value.view(B, T, nh, hs).transpose(1, 2)
        scores = torch.matmul(query, key.transpose(-1, -2)) / math.sqrt(hs)
        probs = self.attn_dropout(nn.functional.softmax(scores, dim=-1))
        out = torch.matmul(probs, value)
        out = out.transpose(1, 2).contiguous().view(B, T, self.all_head_size)
        out = self.output_dropout(self.output_projection(out))
        return (out, probs if output_attentions else None)


class MLP(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        self.dense_1 = nn.Linear(config["hidden_size"], config["intermediate_size"])
        self.activation = NewGELUActivation()
        self.dense_2 = nn.Linear(config["intermediate_size"], config["hidden_size"])
        self.dropout = nn.Dropout(config["hidden_dropout_prob"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.dense_2(self.activation(self.dense_1(x))))


class Block(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        faster = config.get("use_faster_attention", False)
        self.attention = FasterMultiHeadAttention(config) if faster else MultiHeadAttention(config)
        self.layernorm_1 = nn.LayerNorm(config["hidden_size"])
        self.mlp = MLP(config)
        self.layernorm_2 = nn.LayerNorm(config["hidden_size"])

    def forward(self, x: torch.Tensor, output_attentions: bool = False):
        attention_output, probs = self.attention(self.layernorm_1(x), output_attentions=output_attentions)
        x = x + attention_output
        x = x + self.mlp(self.layernorm_2(x))
        return (x, probs if output_attentions else None)


class Encoder(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        self.blocks = nn.ModuleList([Block(config) for _ in range(config["num_hidden_layers"])])

    def forward(self, x: torch.Tensor, output_attentions: bool = False):
        all_attentions = []
        for block in self.blocks:
            x, probs = block(x, output_attentions=output_attentions)
            all_attentions.append(probs)
        return (x, all_attentions if output_attentions else None)


class ViTForClassfication(nn.Module):  # sic: the tutorial's spelling
    def __init__(self, config: dict):
        super().__init__()
        self.config = config
        self.embedding = Embeddings(config)
        self.encoder = Encoder(config)
        # not in the tutorial: the ViT paper's LayerNorm on [CLS] before the head, when the config asks
        self.layernorm = nn.LayerNorm(config["hidden_size"]) if config.get("final_layernorm") else None
        self.classifier = nn.Linear(config["hidden_size"], config["num_classes"])
        self.apply(self._init_weights)

    def forward(self, x: torch.Tensor, output_attentions: bool = False):
        encoder_output, all_attentions = self.encoder(self.embedding(x), output_attentions=output_attentions)
        cls_output = encoder_output[:, 0, :]
        if self.layernorm is not None:
            cls_output = self.layernorm(cls_output)
        logits = self.classifier(cls_output)
        return (logits, all_attentions if output_attentions else None)

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config["initializer_range"]
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            module.bias.data.zero_()
            module.weight.data.fill_(1.0)
        elif isinstance(module, Embeddings):
            for name in ("position_embeddings", "cls_token"):
                p = getattr(module, name)
                p.data = nn.init.trunc_normal_(p.data.to(torch.float32), mean=0.0, std=std).to(p.dtype)
