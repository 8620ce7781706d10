"""vit_np's ViT against the tutorial's PyTorch model (vit_np/torch_reference.py): same weights, same numbers.

Each test is one concept; run one alone, e.g. `pytest tests/test_vit.py -k gradients`.
Both attention variants are checked: "fused" (FasterMultiHeadAttention, one qkv_projection)
and "per_head" (MultiHeadAttention, one AttentionHead module per head).
"""
import re

import numpy as np
import pytest
import torch

import minigrad as mg
import minigrad.functional as F
from minigrad import nn
from vit_np import torch_reference as torch_vit
from minigrad.optim import AdamW
from minigrad.testing import (
    DTYPES, MODES, TOLERANCES, assert_close, check_finite_differences, check_op, mode, seeded,
)
from vit_np.config import ViTConfig
from vit_np.model import (
    PatchDropout, ViTForClassification, fused_to_per_head_state_dict, per_head_to_fused_state_dict,
)

VARIANTS = {"fused": True, "per_head": False}  # name -> use_faster_attention
NO_DROPOUT = dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}
TINY_PARAMETER_COUNT = 119_098  # 2,352 patch proj + 48 cls + 3,120 pos + 4 x 28,272 blocks + 490 classifier


def to_torch(sd: dict) -> dict:
    return {k: torch.from_numpy(v.copy()) for k, v in sd.items()}


def from_torch(sd: dict) -> dict:
    return {k: v.detach().numpy() for k, v in sd.items()}


def make_pair(dtype=np.float32, seed=0, **overrides):
    """Our model (from minigrad's seeded generator) and the tutorial's, holding the same weights."""
    config = ViTConfig(**overrides)
    mg.manual_seed(seed)
    ours = ViTForClassification(config).to(dtype)
    theirs = torch_vit.ViTForClassfication(config.to_dict()).to(TORCH_DTYPE[dtype])
    theirs.load_state_dict(to_torch(ours.state_dict()))
    return ours, theirs


def batch(n=2, dtype=np.float32, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3, 32, 32)).astype(dtype), rng.integers(0, 10, n)


# -- parity with PyTorch, dropout off: forward, loss, attention maps, every gradient -------------


@pytest.fixture(scope="module", params=[(v, d, path, m) for v in VARIANTS for d in DTYPES
                                        for path in ("maps", "plain", "cls_only") for m in MODES],
                ids=lambda p: f"{p[0]}-{p[1].__name__}-{p[2]}-{p[3]}")
def run(request):
    """One forward + backward of both models on the same batch (shared by the tests below), with
    minigrad's kernels and with its reference formulas: with the attention maps, without, and with the
    speed option cls_only_last_block, whose last block computes [CLS] alone (vit_np.model.encode_for_cls):
    the logits and every gradient must still be PyTorch's, which always computes every token."""
    variant, dtype, path, name = request.param
    maps = path == "maps"
    ours, theirs = make_pair(dtype, use_faster_attention=VARIANTS[variant], cls_only_last_block=path == "cls_only",
                             **NO_DROPOUT)
    x, y = batch(2, dtype)
    with mode(name):
        logits, attentions = ours(x, output_attentions=maps)
        loss = F.cross_entropy(logits, y)
        loss.backward()
    t_logits, t_attentions = theirs(torch.from_numpy(x), output_attentions=True)
    t_loss = torch.nn.functional.cross_entropy(t_logits, torch.from_numpy(y))
    t_loss.backward()
    return dict(tol=TOLERANCES[dtype], dtype=dtype, maps=maps, ours=ours, theirs=theirs, logits=logits, t_logits=t_logits,
                attentions=attentions, t_attentions=t_attentions, loss=loss, t_loss=t_loss)


def test_logits_match_pytorch(run):
    assert run["logits"].shape == (2, 10) and run["logits"].dtype == run["dtype"]
    assert_close(run["logits"].numpy(), run["t_logits"].detach().numpy(), "logits", **run["tol"])


def test_loss_matches_pytorch(run):
    assert_close(run["loss"].numpy(), run["t_loss"].detach().numpy(), "cross-entropy loss", **run["tol"])


def test_attention_maps_match_pytorch(run):
    if not run["maps"]:  # the cls_only run: no maps were asked for, so none may come back
        assert run["attentions"] is None
        return
    assert len(run["attentions"]) == len(run["t_attentions"]) == 4
    for i, (a, t) in enumerate(zip(run["attentions"], run["t_attentions"])):
        assert a.shape == (2, 4, 65, 65)
        assert_close(a.numpy(), t.detach().numpy(), f"attention map of block {i}", **run["tol"])


def test_gradients_match_pytorch(run):
    theirs = dict(run["theirs"].named_parameters())
    ours = dict(run["ours"].named_parameters())
    assert list(ours) == list(theirs)
    for name, p in ours.items():
        assert p.grad is not None and p.grad.dtype == run["dtype"], f"{name} has no {run['dtype']} gradient"
        assert_close(p.grad, theirs[name].grad.numpy(), f"gradient of {name}", **run["tol"])


# -- the ViT paper's final LayerNorm on [CLS] (final_layernorm, not in the tutorial) ------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("mode_name", MODES)
@pytest.mark.parametrize("maps", [True, False], ids=["maps", "cls_only"])
def test_final_layernorm_matches_pytorch(dtype, mode_name, maps):
    """logits = classifier(LayerNorm(encoder output[:, 0])): logits, loss and every gradient (the
    LayerNorm's own among them) against the PyTorch twin with the same LayerNorm."""
    ours, theirs = make_pair(dtype, final_layernorm=True, **NO_DROPOUT)
    assert ours.layernorm is not None and "layernorm.weight" in ours.state_dict()
    x, y = batch(3, dtype)
    with mode(mode_name):
        logits, _ = ours(x, output_attentions=maps)
        loss = F.cross_entropy(logits, y)
        loss.backward()
    t_logits, _ = theirs(torch.from_numpy(x))
    t_loss = torch.nn.functional.cross_entropy(t_logits, torch.from_numpy(y))
    t_loss.backward()
    tol = TOLERANCES[dtype]
    assert_close(logits.numpy(), t_logits.detach().numpy(), "logits", **tol)
    assert_close(loss.numpy(), t_loss.detach().numpy(), "loss", **tol)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, theirs_params[name].grad.numpy(), f"gradient of {name}", **tol)


def test_final_layernorm_normalizes_what_the_classifier_reads():
    """logits = classifier(z_hat): z_hat is the [CLS] output of the encoder normalized row by row
    (mean 0, variance 1 at init: weight 1, bias 0), computed here in NumPy. The model without it
    (the tutorial's) has no such module and the tutorial's state_dict names."""
    mg.manual_seed(0)
    model = ViTForClassification(ViTConfig(final_layernorm=True, **NO_DROPOUT)).eval()
    x, _ = batch(4)
    with mg.no_grad():
        z = model.encoder(model.embedding(mg.Tensor(x)))[0].numpy()[:, 0, :]  # (4, 48)
        logits, _ = model(x)
    z_hat = (z - z.mean(-1, keepdims=True)) / np.sqrt(z.var(-1, keepdims=True) + 1e-5)
    assert np.abs(z.mean(-1)).max() > 1e-3  # the encoder's output is not normalized by itself
    expected = z_hat @ model.classifier.weight.numpy().T + model.classifier.bias.numpy()
    assert_close(logits.numpy(), expected, "classifier(LayerNorm([CLS]))", **TOLERANCES[np.float32])
    plain = ViTForClassification(ViTConfig(**NO_DROPOUT))
    assert plain.layernorm is None and not any(k.startswith("layernorm") for k in plain.state_dict())


# -- one training step, dropout on: the kernels give the reference formulas' numbers ------------------


def training_step(variant: str, dtype, mode_name: str, patch_drop_rate: float = 0.0) -> tuple[float, dict, dict]:
    """Seeded model, one forward + backward + AdamW step with dropout 0.1 on a batch of 8:
    the loss, every gradient and every updated weight."""
    mg.manual_seed(0)
    config = ViTConfig(use_faster_attention=VARIANTS[variant], patch_drop_rate=patch_drop_rate)
    model = ViTForClassification(config).to(dtype)
    optimizer = AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    x, y = batch(8, dtype)
    with mode(mode_name):
        mg.manual_seed(1)  # the dropout masks
        logits, _ = model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        grads = {name: p.grad.numpy().copy() for name, p in model.named_parameters()}
        optimizer.step()
    return loss.item(), grads, model.state_dict()


@pytest.mark.parametrize("patch_drop_rate", [0.0, 0.5], ids=["dropout", "dropout+patch_dropout"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_training_step_with_dropout_is_the_same_with_kernels_and_reference(variant, dtype, patch_drop_rate):
    loss_k, grads_k, weights_k = training_step(variant, dtype, "kernels", patch_drop_rate)
    loss_r, grads_r, weights_r = training_step(variant, dtype, "reference", patch_drop_rate)
    tol = TOLERANCES[dtype]
    assert_close(loss_k, loss_r, "loss", **tol, reference="reference")
    for name in grads_r:
        assert grads_k[name].dtype == dtype
        assert_close(grads_k[name], grads_r[name], f"gradient of {name}", **tol, reference="reference")
        # AdamW's first step moves a weight by lr g / (|g| + eps): where |g| is near eps (1e-8), a last-bit
        # difference in g moves it by up to 2 lr, so such weights are checked through their gradient alone
        steady = np.minimum(np.abs(grads_k[name]), np.abs(grads_r[name])) > 1e-6
        assert_close(weights_k[name][steady], weights_r[name][steady], f"{name} after one AdamW step", **tol,
                     reference="reference")


# -- the two attention variants are one function ---------------------------------------------------


def test_fused_and_per_head_attention_compute_the_same_function():
    """Split the fused qkv weights into heads: same logits, attention maps and (split) gradients."""
    mg.manual_seed(0)
    fused = ViTForClassification(ViTConfig(**NO_DROPOUT)).double()
    per_head = ViTForClassification(ViTConfig(use_faster_attention=False, **NO_DROPOUT)).double()
    per_head.load_state_dict(fused_to_per_head_state_dict(fused.state_dict(), fused.config))
    x, y = batch(2, np.float64)
    outputs = []
    for model in (fused, per_head):
        logits, attentions = model(x, output_attentions=True)
        F.cross_entropy(logits, y).backward()
        outputs.append((logits, attentions))
    assert_close(outputs[1][0].numpy(), outputs[0][0].numpy(), "per-head logits vs fused", rtol=1e-12, atol=1e-12)
    for i, (a, b) in enumerate(zip(outputs[1][1], outputs[0][1])):
        assert_close(a.numpy(), b.numpy(), f"per-head attention of block {i} vs fused", rtol=1e-12, atol=1e-12)
    fused_grads = fused_to_per_head_state_dict({k: p.grad for k, p in fused.named_parameters()}, fused.config)
    for name, p in per_head.named_parameters():
        assert_close(p.grad, fused_grads[name], f"gradient of {name} vs fused", rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("qkv_bias", [True, False])
def test_attention_state_dict_conversion_round_trips(qkv_bias):
    mg.manual_seed(0)
    fused = ViTForClassification(ViTConfig(qkv_bias=qkv_bias))
    per_head_sd = fused_to_per_head_state_dict(fused.state_dict(), fused.config)
    per_head = ViTForClassification(ViTConfig(qkv_bias=qkv_bias, use_faster_attention=False))
    per_head.load_state_dict(per_head_sd)  # strict: exactly the per-head names and shapes
    back = per_head_to_fused_state_dict(per_head.state_dict(), per_head.config)
    assert sorted(back) == sorted(fused.state_dict())
    for k, v in fused.state_dict().items():
        np.testing.assert_array_equal(back[k], v, err_msg=k)


# -- dropout and train/eval -------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_eval_mode_is_deterministic_and_matches_pytorch(variant):
    ours, theirs = make_pair(use_faster_attention=VARIANTS[variant])  # dropout 0.1 everywhere
    ours.eval(), theirs.eval()
    x, _ = batch(4)
    first, second = ours(x)[0].numpy(), ours(x)[0].numpy()
    np.testing.assert_array_equal(first, second)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x))[0].numpy()
    assert_close(first, expected, "eval-mode logits", **TOLERANCES[np.float32])


@pytest.mark.parametrize("variant", VARIANTS)
def test_train_mode_output_is_random(variant):
    ours, _ = make_pair(use_faster_attention=VARIANTS[variant])
    x, _ = batch(4)
    evaluated = ours.eval()(x)[0].numpy()
    first, second = ours.train()(x)[0].numpy(), ours(x)[0].numpy()
    assert not np.allclose(first, second), "two training-mode calls gave the same logits"
    assert not np.allclose(first, evaluated), "training-mode logits equal eval-mode logits"


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_dropout_of_the_tutorial_is_applied(variant):
    """The tutorial's Dropout modules (names, p), and each one alone in training mode changes the output."""
    ours, theirs = make_pair(use_faster_attention=VARIANTS[variant])
    expected = [(n, m.p) for n, m in theirs.named_modules() if isinstance(m, torch.nn.Dropout)]
    dropouts = {n: m for n, m in ours.named_modules() if isinstance(m, nn.Dropout)}
    assert [(n, m.p) for n, m in dropouts.items()] == expected
    x, _ = batch(1)
    reference = ours.eval()(x)[0].numpy()
    for name, module in dropouts.items():
        module.train()
        assert not np.allclose(ours(x)[0].numpy(), reference), f"{name} is not applied in forward"
        module.eval()


@pytest.mark.parametrize("variant", VARIANTS)
def test_training_flag_reaches_every_module(variant):
    model = ViTForClassification(ViTConfig(use_faster_attention=VARIANTS[variant]))
    assert model.training and all(m.training for m in model.modules())
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


@pytest.mark.parametrize("variant", VARIANTS)
def test_attentions_are_probabilities_or_none(variant):
    model = ViTForClassification(ViTConfig(use_faster_attention=VARIANTS[variant])).eval()
    x, _ = batch(2)
    assert model(x)[1] is None
    attentions = model(x, output_attentions=True)[1]
    assert len(attentions) == 4
    for a in attentions:
        assert isinstance(a, mg.Tensor) and a.shape == (2, 4, 65, 65) and not a.requires_grad
        assert_close(a.numpy().sum(axis=-1), np.ones((2, 4, 65)), "attention row sums", rtol=1e-5, atol=1e-5)


# -- PatchDropout (not in the tutorial; off unless patch_drop_rate > 0) ------------------------------


def kept_columns(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Which token of x each token of y is, found from the values (x's tokens are distinct random rows)."""
    matches = (y[:, :, None, :] == x[:, None, :, :]).all(axis=-1)  # (B, kept, T): y[b, i] == x[b, j]
    assert (matches.sum(axis=-1) == 1).all(), "a token of the output is not exactly one token of the input"
    return matches.argmax(axis=-1)


@pytest.mark.parametrize("p, kept", [(0.5, 32), (0.25, 48), (0.9, 6), (0.999, 1)])
def test_patch_dropout_keeps_cls_and_a_random_ordered_share_of_the_patches(p, kept):
    x = np.random.default_rng(0).standard_normal((16, 65, 8))
    mg.manual_seed(0)
    y = PatchDropout(p)(mg.Tensor(x)).numpy()
    assert y.shape == (16, 1 + kept, 8)  # int(64 (1 - p)) patches, at least one
    cols = kept_columns(x, y)
    assert (cols[:, 0] == 0).all(), "[CLS] must stay first"
    assert (np.diff(cols, axis=1) > 0).all(), "the kept patches keep their order (and none repeats)"
    if kept < 64:
        assert len({tuple(c) for c in cols}) > 1, "every image kept the same patches"


def test_patch_dropout_is_the_identity_in_eval_mode_and_at_p_0():
    x = mg.Tensor(np.random.default_rng(0).standard_normal((2, 65, 8)))
    assert PatchDropout(0.5).eval()(x) is x
    assert PatchDropout(0.0)(x) is x


@pytest.mark.parametrize("p", [1.0, -0.1, "0.5", True])
def test_patch_dropout_refuses_a_share_outside_0_1(p):
    with pytest.raises(ValueError, match=r"PatchDropout: p .* must be in \[0, 1\), got"):
        PatchDropout(p)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_patch_dropout_gradient_matches_pytorch_gather(dtype):
    """The same kept tokens as torch.gather: forward, and the upstream gradient scattered back."""
    x = np.random.default_rng(0).standard_normal((4, 17, 6)).astype(dtype)
    ours = seeded(lambda t: PatchDropout(0.5)(t))
    cols = torch.from_numpy(kept_columns(x, ours(mg.Tensor(x)).numpy()))
    check_op(ours, lambda t: t.gather(1, cols[:, :, None].expand(-1, -1, 6)), inputs=[x])


def test_patch_dropout_gradient_matches_finite_differences():
    check_finite_differences(seeded(lambda t: PatchDropout(0.5)(t)), [(3, 9, 4)])


def test_patch_dropout_leaves_evaluation_unchanged_and_trains_on_fewer_tokens():
    x, _ = batch(2)
    mg.manual_seed(0)
    plain = ViTForClassification(ViTConfig(**NO_DROPOUT)).eval()
    mg.manual_seed(0)
    dropping = ViTForClassification(ViTConfig(patch_drop_rate=0.5, **NO_DROPOUT)).eval()
    np.testing.assert_array_equal(dropping(x)[0].numpy(), plain(x)[0].numpy())
    assert dropping.embedding(mg.Tensor(x)).shape == (2, 65, 48)
    assert dropping.train().embedding(mg.Tensor(x)).shape == (2, 33, 48)
    logits, _ = dropping(x)
    logits.sum().backward()
    pos_grad = dropping.embedding.position_embeddings.grad.numpy()[0]  # (65, 48): zero rows are left-out positions
    assert (np.abs(pos_grad).sum(axis=1) > 0).sum() < 65


# -- configuration and input checks ---------------------------------------------------------------


def test_default_config_is_the_tutorials_tiny_config_with_dropout():
    tutorial = {"patch_size": 4, "hidden_size": 48, "num_hidden_layers": 4, "num_attention_heads": 4,
                "intermediate_size": 4 * 48, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
                "initializer_range": 0.02, "image_size": 32, "num_classes": 10, "num_channels": 3,
                "qkv_bias": True, "use_faster_attention": True}
    ours = dict(tutorial, patch_drop_rate=0.0, final_layernorm=False, cls_only_last_block=False)  # not the tutorial's: off
    assert ViTConfig().to_dict() == dict(ours, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    assert ViTConfig.from_dict(tutorial).to_dict() == ours
    assert ViTForClassification(tutorial).config == ViTConfig.from_dict(tutorial)


@pytest.mark.parametrize("build", [ViTConfig.from_dict, ViTForClassification])
def test_unknown_config_key_is_named(build):
    with pytest.raises(ValueError, match="unknown config key.*'hidden_sizes'"):
        build({"hidden_sizes": 64})


INVALID = [
    (dict(hidden_size=50), r"hidden_size \(50\) must be divisible by num_attention_heads \(4\)"),
    (dict(image_size=30), r"image_size \(30\) must be divisible by patch_size \(4\)"),
    (dict(hidden_dropout_prob=1.0), r"hidden_dropout_prob .* must be in \[0, 1\), got 1.0"),
    (dict(attention_probs_dropout_prob=-0.1), r"attention_probs_dropout_prob .* must be in \[0, 1\)"),
    (dict(patch_drop_rate=1.0), r"patch_drop_rate .* must be in \[0, 1\), got 1.0"),
    (dict(patch_size=0), "patch_size must be a positive integer, got 0"),
    (dict(num_hidden_layers=-1), "num_hidden_layers must be a positive integer, got -1"),
    (dict(hidden_size=48.0), "hidden_size must be a positive integer, got 48.0"),
    (dict(initializer_range=0.0), "initializer_range .* must be > 0"),
    (dict(qkv_bias="yes"), "qkv_bias must be True or False"),
    (dict(final_layernorm=1), "final_layernorm must be True or False"),
]


@pytest.mark.parametrize("overrides, message", INVALID, ids=[next(iter(o)) for o, _ in INVALID])
@pytest.mark.parametrize("build", [lambda o: ViTConfig(**o), lambda o: ViTForClassification(o)],
                         ids=["ViTConfig", "ViTForClassification"])
def test_invalid_config_fails_at_construction_naming_the_field(build, overrides, message):
    with pytest.raises(ValueError, match=message):
        build(overrides)


def test_config_edited_after_construction_is_checked_again():
    config = ViTConfig()
    config.num_attention_heads = 5
    with pytest.raises(ValueError, match="hidden_size .* divisible by num_attention_heads"):
        ViTForClassification(config)


@pytest.mark.parametrize("shape", [(2, 1, 32, 32), (3, 32, 32), (2, 3, 28, 28)])
def test_wrong_input_shape_names_expected_and_received(shape):
    model = ViTForClassification()
    expected = f"ViTForClassification: expected input (B, 3, 32, 32), got {shape}"
    with pytest.raises(ValueError, match=re.escape(expected)):
        model(np.zeros(shape, dtype=np.float32))


def test_wrong_input_dtype_is_named():
    with pytest.raises(TypeError, match="input has dtype float64 but the model is float32"):
        ViTForClassification()(np.zeros((1, 3, 32, 32)))


# -- parameters, names, checkpoints, seeding ---------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_parameter_count_is_the_tiny_models(variant):
    ours, theirs = make_pair(use_faster_attention=VARIANTS[variant])
    assert ours.num_parameters() == sum(p.numel() for p in theirs.parameters()) == TINY_PARAMETER_COUNT


def test_tutorial_spelling_is_an_alias():
    from vit_np.model import ViTForClassfication

    assert ViTForClassfication is ViTForClassification


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("qkv_bias", [True, False])
def test_state_dict_names_and_shapes_are_the_tutorials(variant, qkv_bias):
    ours, theirs = make_pair(use_faster_attention=VARIANTS[variant], qkv_bias=qkv_bias)
    shapes = {k: v.shape for k, v in ours.state_dict().items()}
    assert list(shapes.items()) == [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]  # order too
    assert shapes["embedding.patch_embeddings.projection.weight"] == (48, 3, 4, 4)
    assert shapes["classifier.bias"] == (10,)
    head_or_fused = "qkv_projection.weight" if variant == "fused" else "heads.2.query.weight"
    assert shapes[f"encoder.blocks.0.attention.{head_or_fused}"] == ((144, 48) if variant == "fused" else (12, 48))


@pytest.mark.parametrize("variant", VARIANTS)
def test_pytorch_checkpoint_loads_and_goes_back(variant):
    config = ViTConfig(use_faster_attention=VARIANTS[variant])
    torch.manual_seed(0)
    theirs = torch_vit.ViTForClassfication(config.to_dict()).eval()  # PyTorch's own init
    ours = ViTForClassification(config).eval()
    ours.load_state_dict(from_torch(theirs.state_dict()))
    x, _ = batch(2)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x))[0].numpy()
    assert_close(ours(x)[0].numpy(), expected, "logits after loading the PyTorch checkpoint", **TOLERANCES[np.float32])
    back = torch_vit.ViTForClassfication(config.to_dict())
    back.load_state_dict(to_torch(ours.state_dict()))  # strict
    for k, v in theirs.state_dict().items():
        assert torch.equal(back.state_dict()[k], v), k


def test_same_seed_same_model():
    def weights(seed):
        mg.manual_seed(seed)
        return ViTForClassification().state_dict()

    a, b, c = weights(0), weights(0), weights(1)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["classifier.weight"], c["classifier.weight"])


def test_initialisation_is_the_tutorials():
    """N(0, 0.02) weights, zero biases, LayerNorm 1/0, cls/pos truncated N(0, 0.02)."""
    mg.manual_seed(0)
    sd = ViTForClassification().state_dict()
    drawn = {k: v for k, v in sd.items() if k.endswith((".weight", "_token", "_embeddings")) and "layernorm" not in k}
    for k, v in drawn.items():  # each tensor (even cls_token's 48 values) is N(0, 0.02), not PyTorch's default
        assert 0.01 < v.std() < 0.03 and np.abs(v).max() < 0.2, f"{k} is not N(0, 0.02): std {v.std():.4f}"
    pooled = np.concatenate([v.ravel() for v in drawn.values()])  # ~119k draws: a tight check
    assert abs(pooled.std() - 0.02) < 0.0005 and abs(pooled.mean()) < 0.0005
    for k, v in sd.items():
        if k.endswith(".bias"):
            assert not v.any(), f"{k} should start at zero"
        if "layernorm" in k and k.endswith(".weight"):
            assert (v == 1).all(), f"{k} should start at one"


# -- it can learn -------------------------------------------------------------------------------------


def test_overfits_64_random_images():
    """64 fixed images with random labels: AdamW reaches 100% training accuracy in < 60 steps."""
    mg.manual_seed(0)
    model = ViTForClassification(ViTConfig(**NO_DROPOUT))
    x, y = batch(64, seed=0)
    optimizer = AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    accuracy = 0.0
    for _ in range(60):
        logits, _ = model(x)
        accuracy = (logits.numpy().argmax(axis=1) == y).mean()
        if accuracy == 1.0:
            break
        loss = F.cross_entropy(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert accuracy == 1.0, f"training accuracy only reached {accuracy:.0%}"
