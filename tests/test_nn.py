"""minigrad.nn against torch.nn: layers (outputs, input and parameter gradients), Module, state dicts.

Every layer test copies a torch layer's weights into ours through `load_state_dict`, so each
one also checks that the two state dicts have the same names, shapes and layouts.
"""
import numpy as np
import pytest
import torch

import minigrad as mg
import minigrad.nn as nn
from minigrad.testing import DTYPES, MODES, TOLERANCES, assert_close, check_op

TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


def copy_weights(ours: nn.Module, theirs: torch.nn.Module) -> None:
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def check_layer(ours: nn.Module, theirs: torch.nn.Module, x_shape: tuple, dtype) -> None:
    """Same weights, same input, same random upstream gradient: output, dx and every dparam agree,
    with minigrad's kernels and with its reference formulas."""
    theirs = theirs.to(TORCH_DTYPE[dtype])
    copy_weights(ours, theirs)
    for mode in MODES:
        ours.zero_grad()
        theirs.zero_grad()
        check_op(ours, theirs, [x_shape], dtype=dtype, modes=(mode,))
        ours_params, their_params = list(ours.named_parameters()), list(theirs.named_parameters())
        assert [n for n, _ in ours_params] == [n for n, _ in their_params]
        for (name, p), (_, t) in zip(ours_params, their_params):
            assert p.dtype == dtype and p.grad.dtype == dtype, f"{name}: {p.dtype}, grad {p.grad.dtype}"
            assert_close(p.grad, t.grad.numpy(), f"gradient of {name} [{mode}]", **TOLERANCES[dtype])


# -- layers --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
def test_linear(dtype, bias):
    check_layer(nn.Linear(5, 3, bias=bias, dtype=dtype), torch.nn.Linear(5, 3, bias=bias), (2, 4, 5), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [6, (3, 6)])
def test_layer_norm(dtype, shape):
    ours, theirs = nn.LayerNorm(shape, dtype=dtype), torch.nn.LayerNorm(shape)
    with torch.no_grad():  # move weight and bias off 1 and 0, so a swap of the two would show
        theirs.weight.normal_()
        theirs.bias.normal_()
    check_layer(ours, theirs, (2, 3, 6), dtype)


ACTIVATIONS = {
    "relu": lambda fw: fw.nn.ReLU(),
    "gelu-none": lambda fw: fw.nn.GELU(),
    "gelu-tanh": lambda fw: fw.nn.GELU("tanh"),
    "identity": lambda fw: fw.nn.Identity(),
    "tanh": lambda fw: fw.nn.Tanh(),
    "sigmoid": lambda fw: fw.nn.Sigmoid(),
    "softmax-dim1": lambda fw: fw.nn.Softmax(dim=1),
    "softmax-dim-1": lambda fw: fw.nn.Softmax(dim=-1),
    "log-softmax-dim0": lambda fw: fw.nn.LogSoftmax(dim=0),
    "flatten": lambda fw: fw.nn.Flatten(),
    "flatten-0-1": lambda fw: fw.nn.Flatten(0, 1),
    "dropout-eval": lambda fw: fw.nn.Dropout(0.5).eval(),
    "sequential": lambda fw: fw.nn.Sequential(fw.nn.Tanh(), fw.nn.Flatten(), fw.nn.Softmax(-1)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation(dtype, name):
    """The same constructor call in both frameworks (fw is minigrad or torch)."""
    make = ACTIVATIONS[name]
    ours, theirs = make(mg), make(torch)
    assert repr(ours) == repr(theirs)
    check_layer(ours, theirs, (3, 4, 5), dtype)


def test_inplace_flags_are_accepted_and_computed_out_of_place():
    """ReLU(inplace=True), Dropout(inplace=True): the same values, in a new tensor (the input is kept)."""
    x = mg.tensor([-1.0, 2.0])
    assert nn.ReLU(inplace=True)(x).tolist() == [0.0, 2.0] and x.tolist() == [-1.0, 2.0]
    assert repr(nn.ReLU(inplace=True)) == repr(torch.nn.ReLU(inplace=True))
    assert nn.Dropout(0.5, inplace=True).eval()(x) is x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=4, stride=4),  # the ViT's patch embedding: kernel == stride, no padding
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(3, 2), stride=(1, 2), padding=(0, 1), bias=False),
    dict(kernel_size=3, padding="same"),
    dict(kernel_size=(4, 2), padding="same", dilation=(1, 2)),  # even kernels: one more zero after than before
    dict(kernel_size=3, padding="valid", dilation=2),
    dict(kernel_size=3, stride=2, padding=2, dilation=2),
])
@pytest.mark.parametrize("channels", [(3, 5, 1), (6, 4, 2), (3, 6, 3)], ids=["groups1", "groups2", "depthwise"])
def test_conv2d(dtype, kwargs, channels):
    c_in, c_out, groups = channels
    ours = nn.Conv2d(c_in, c_out, groups=groups, dtype=dtype, **kwargs)
    theirs = torch.nn.Conv2d(c_in, c_out, groups=groups, **kwargs)
    assert repr(ours) == repr(theirs)
    check_layer(ours, theirs, (2, c_in, 8, 8), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_unbatched_input(dtype):
    """(C, H, W) is a batch of one, as in PyTorch."""
    kwargs = dict(kernel_size=3, padding="same", groups=2)
    check_layer(nn.Conv2d(4, 6, dtype=dtype, **kwargs), torch.nn.Conv2d(4, 6, **kwargs), (4, 7, 7), dtype)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_conv2d_refuses_other_padding_modes(mode):
    with pytest.raises(NotImplementedError, match=f'Conv2d: padding_mode="{mode}" is not supported'):
        nn.Conv2d(3, 4, 3, padding_mode=mode)


# -- the loss layers ---------------------------------------------------------------------------------


def loss_inputs(dtype, spatial: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    shape, targets = ((2, 5, 3, 3), (2, 3, 3)) if spatial else ((6, 5), (6,))
    t = rng.integers(0, 5, size=targets)
    t.flat[::4] = 1  # several targets of class 1, so ignore_index=1 drops some of them
    return rng.standard_normal(shape).astype(dtype), t


LOSS_OPTIONS = {
    "default": {},
    "weight": dict(weight=[0.5, 1.0, 2.0, 1.5, 0.25]),
    "ignore_index": dict(ignore_index=1),
    "sum": dict(reduction="sum"),
    "none": dict(reduction="none"),
    "smoothing": dict(label_smoothing=0.2),
    "all_together": dict(weight=[0.5, 1.0, 2.0, 1.5, 0.25], ignore_index=1, label_smoothing=0.1),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("spatial", [False, True], ids=["NC", "NCHW"])
@pytest.mark.parametrize("name", LOSS_OPTIONS)
def test_cross_entropy_loss_module(name, spatial, dtype):
    """nn.CrossEntropyLoss(...) made with the same arguments in both frameworks."""
    def make(fw):
        kwargs = dict(LOSS_OPTIONS[name])
        if "weight" in kwargs:
            kwargs["weight"] = fw.tensor(kwargs["weight"], dtype=fw.float64 if dtype == np.float64 else fw.float32)
        return fw.nn.CrossEntropyLoss(**kwargs)

    logits, targets = loss_inputs(dtype, spatial)
    ours, theirs = make(mg), make(torch)
    check_op(lambda x, t: ours(x, t), lambda x, t: theirs(x, t), dtype=dtype, inputs=[logits, targets])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_module(reduction, dtype):
    ours, theirs = nn.MSELoss(reduction=reduction), torch.nn.MSELoss(reduction=reduction)
    check_op(lambda x, y: ours(x, y), lambda x, y: theirs(x, y), [(3, 4), (3, 4)], dtype)


def test_loss_modules_keep_their_settings_like_torch():
    assert repr(nn.CrossEntropyLoss()) == repr(torch.nn.CrossEntropyLoss())
    loss = nn.CrossEntropyLoss(weight=mg.ones(3), label_smoothing=0.1, ignore_index=0)
    assert loss.ignore_index == 0 and loss.label_smoothing == 0.1 and loss.reduction == "mean"
    assert list(loss.state_dict()) == list(torch.nn.CrossEntropyLoss(weight=torch.ones(3)).state_dict()) == ["weight"]
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        assert nn.CrossEntropyLoss(size_average=False).reduction == "sum"


def tiny_mlp(lib, dtype=None):
    extra = {} if dtype is None else {"dtype": dtype}
    return lib.Sequential(
        lib.Linear(4, 8, **extra), lib.GELU("tanh"), lib.LayerNorm(8, **extra), lib.Dropout(0.5),
        lib.Linear(8, 3, **extra),
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_sequential(dtype):
    check_layer(tiny_mlp(nn, dtype).eval(), tiny_mlp(torch.nn).eval(), (5, 4), dtype)


# -- dropout ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_dropout_train(dtype, p):
    """Each output is 0 or x/(1-p); the gradient uses the same mask and the same scale."""
    mg.manual_seed(0)
    x = mg.Tensor(1.0 + np.abs(np.random.default_rng(0).standard_normal((200, 50))).astype(dtype), requires_grad=True)
    dout = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
    out = nn.Dropout(p)(x)
    (out * mg.Tensor(dout)).sum().backward()
    kept = out.numpy() != 0
    scale = dtype(1.0 / (1.0 - p)) if p < 1 else dtype(0.0)
    np.testing.assert_array_equal(out.numpy()[kept], x.numpy()[kept] * scale)
    np.testing.assert_array_equal(x.grad, np.where(kept, dout * scale, 0))
    assert out.dtype == dtype and x.grad.dtype == dtype
    n = kept.size  # kept fraction ~ Binomial(n, 1-p)/n: within 5 standard errors of 1-p
    assert abs(kept.mean() - (1 - p)) <= 5 * np.sqrt(p * (1 - p) / n) + 1e-12


def test_dropout_eval_is_identity():
    x = mg.Tensor(np.random.default_rng(0).standard_normal((4, 5)), requires_grad=True)
    layer = nn.Dropout(0.9).eval()
    out = layer(x)
    out.backward(np.full(x.shape, 2.0))
    np.testing.assert_array_equal(out.numpy(), x.numpy())
    np.testing.assert_array_equal(x.grad, np.full(x.shape, 2.0))


# -- configuration and shape errors -------------------------------------------------------------


@pytest.mark.parametrize("make, field", [
    (lambda: nn.Linear(0, 3), "in_features"),
    (lambda: nn.Linear(3, -1), "out_features"),
    (lambda: nn.Dropout(1.5), "p"),
    (lambda: nn.Dropout(-0.1), "p"),
    (lambda: nn.GELU("erf"), "approximate"),
    (lambda: nn.Conv2d(3, 4, kernel_size=0), "kernel_size"),
    (lambda: nn.Conv2d(3, 4, kernel_size=3, padding=-1), "padding"),
    (lambda: nn.LayerNorm(4, eps=0.0), "eps"),
])
def test_config_errors_name_the_field(make, field):
    with pytest.raises(ValueError, match=rf"\b{field}\b"):
        make()


@pytest.mark.parametrize("layer, shape, expected", [
    (nn.Linear(4, 3), (2, 5), "(..., 4)"),
    (nn.LayerNorm(4), (2, 5), "(..., 4)"),
    (nn.Conv2d(3, 2, kernel_size=2), (1, 4, 6, 6), "(B, 3, H, W)"),
])
def test_wrong_input_shape_names_layer_and_shapes(layer, shape, expected):
    with pytest.raises(ValueError) as info:
        layer(mg.randn(*shape))
    for text in (type(layer).__name__, expected, str(shape)):
        assert text in str(info.value)


# -- Module: names, order, state dicts ----------------------------------------------------------


def nested_model(lib, zeros):
    """The same small nested model in torch.nn or minigrad.nn (ModuleList inside, Parameter last)."""

    class Block(lib.Module):
        def __init__(self):
            super().__init__()
            self.ln = lib.LayerNorm(4)
            self.mlp = lib.Sequential(lib.Linear(4, 8), lib.GELU(), lib.Linear(8, 4))

        def forward(self, x):
            return x + self.mlp(self.ln(x))

    class Model(lib.Module):
        def __init__(self):
            super().__init__()
            self.embed = lib.Linear(3, 4)
            self.blocks = lib.ModuleList([Block() for _ in range(2)])
            self.head = lib.Sequential(lib.LayerNorm(4), lib.Dropout(0.1), lib.Linear(4, 2))
            self.cls = lib.Parameter(zeros(1, 4))

        def forward(self, x):
            x = self.embed(x) + self.cls
            for block in self.blocks:
                x = block(x)
            return self.head(x)

    return Model()


def test_names_and_order_match_torch():
    ours, theirs = nested_model(nn, mg.zeros), nested_model(torch.nn, torch.zeros)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [v.shape for v in ours.state_dict().values()] == [tuple(v.shape) for v in theirs.state_dict().values()]
    assert ours.num_parameters() == nn.utils.count_parameters(ours) == sum(p.numel() for p in theirs.parameters())


def test_torch_state_dict_gives_identical_outputs():
    ours, theirs = nested_model(nn, mg.zeros).double().eval(), nested_model(torch.nn, torch.zeros).double().eval()
    copy_weights(ours, theirs)
    x = np.random.default_rng(0).standard_normal((5, 3))
    assert_close(ours(mg.Tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), "output", **TOLERANCES[np.float64])


def test_strict_load_names_every_offending_key():
    model = nn.Sequential(nn.Linear(2, 3), nn.LayerNorm(3))
    sd = model.state_dict()
    del sd["0.bias"], sd["1.weight"]
    sd["0.weight"] = np.zeros((3, 5))
    sd["extra.weight"] = np.zeros(2)
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(sd)
    for text in ['"0.bias"', '"1.weight"', '"extra.weight"', "0.weight", "(3, 5)", "(3, 2)"]:
        assert text in str(info.value)


def test_non_strict_load_reports_and_skips():
    model, source = nn.Linear(2, 3), nn.Linear(2, 3)
    before_bias = model.bias.numpy().copy()
    result = model.load_state_dict({"weight": source.weight.numpy(), "other": np.ones(1)}, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["other"]
    np.testing.assert_array_equal(model.weight.numpy(), source.weight.numpy())
    np.testing.assert_array_equal(model.bias.numpy(), before_bias)
    with pytest.raises(RuntimeError, match="size mismatch for weight"):  # shapes are checked even then
        model.load_state_dict({"weight": np.zeros((2, 2))}, strict=False)


def test_state_dict_copies_and_load_casts_in_place():
    model = nn.Linear(2, 3)
    weight = model.weight
    sd = model.state_dict()
    sd["weight"][...] = 7.0  # a copy: the model is untouched
    assert not np.any(model.weight.numpy() == 7.0)
    model.load_state_dict({k: v.astype(np.float64) for k, v in sd.items()})
    assert model.weight is weight and weight.dtype == np.float32  # same Parameter, its own dtype
    np.testing.assert_array_equal(weight.numpy(), np.full((3, 2), 7.0, np.float32))


def test_to_device_and_cpu_as_in_the_tutorial():
    """`model = ViTForClassfication(config).to(device)` with device = torch.device("cpu")."""
    model = nested_model(nn, mg.zeros)
    assert model.to(mg.device("cpu")) is model and model.to("cpu") is model and model.cpu() is model
    assert model.to("cpu", mg.float64) is model and all(p.dtype == np.float64 for p in model.parameters())
    assert model.to(device="cpu", dtype=mg.float32) is model and all(p.dtype == np.float32 for p in model.parameters())
    with pytest.raises(RuntimeError, match="minigrad computes on the CPU only"):
        model.to("cuda")
    with pytest.raises(RuntimeError, match="Module.cuda: minigrad computes on the CPU only"):
        model.cuda()
    with pytest.raises(TypeError, match="Module.to: dtype must be floating point, got int64"):
        model.to(mg.int64)


@pytest.mark.parametrize("layer, shape", [(nn.Linear(4, 3), (2, 4)), (nn.LayerNorm(4), (2, 4)),
                                          (nn.Conv2d(3, 2, 2), (1, 3, 4, 4)), (nn.GELU(), (3,)), (nn.Dropout(), (3,)),
                                          (nn.Softmax(dim=0), (3,)), (nn.Identity(), (3,))],
                         ids=lambda v: type(v).__name__ if isinstance(v, nn.Module) else "")
def test_forward_takes_input_by_name_as_torch(layer, shape):
    x = mg.randn(*shape)
    np.testing.assert_array_equal(layer.eval()(input=x).numpy(), layer(x).numpy())


def test_to_double_converts_every_parameter():
    model = nested_model(nn, mg.zeros)
    params = list(model.parameters())
    assert all(p.dtype == np.float32 for p in params)
    model.double()
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]  # converted in place
    assert model(mg.Tensor(np.ones((2, 3)))).dtype == np.float64
    assert all(p.dtype == np.float32 for p in model.float().parameters())


def test_train_eval_and_zero_grad():
    model = nested_model(nn, mg.zeros)
    assert all(m.training for m in model.modules())
    assert not any(m.training for m in model.eval().modules())
    assert all(m.training for m in model.train().modules())
    model(mg.randn(2, 3)).sum().backward()
    model.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in model.parameters())
    model.zero_grad()  # PyTorch's default: None, so the next backward allocates fresh
    assert all(p.grad is None for p in model.parameters())


def test_repr_matches_torch():
    def build(lib):
        return lib.Sequential(lib.Linear(2, 3), lib.ModuleList([lib.ReLU(), lib.Identity()]), lib.LayerNorm(3),
                              lib.Conv2d(3, 8, 3, 2, 1, bias=False), lib.Conv2d(3, 8, 4, 4), lib.GELU("tanh"))
    assert repr(build(nn)) == repr(build(torch.nn))


def test_apply_visits_like_torch():
    ours, theirs = [], []
    nested_model(nn, mg.zeros).apply(lambda m: ours.append(type(m).__name__))
    nested_model(torch.nn, torch.zeros).apply(lambda m: theirs.append(type(m).__name__))
    assert ours == theirs


def test_trainable_count_and_registration_rules():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2, bias=False))
    model[0].requires_grad_(False)
    assert model.num_parameters(trainable_only=True) == 8 and model.num_parameters() == 24
    assert model[1].bias is None and [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.weight"]
    with pytest.raises(TypeError, match="weight"):
        model[0].weight = np.zeros((4, 3))  # a parameter slot takes a Parameter (or None)
    with pytest.raises(TypeError, match="floating point"):
        nn.Parameter(np.arange(3))


def test_buffers_are_state_but_not_parameters():
    model = nn.Linear(2, 2)
    model.register_buffer("mask", np.tril(np.ones((2, 2), np.float32)))
    model.register_buffer("scratch", np.zeros(3, np.float32), persistent=False)
    assert [n for n, _ in model.named_parameters()] == ["weight", "bias"]
    assert list(model.state_dict()) == ["weight", "bias", "mask"]
    assert model.double().mask.dtype == np.float64
