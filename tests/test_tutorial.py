"""The tutorial's code, run as a reader runs it: vit_np/tutorial_code.py, once on PyTorch and once on
minigrad with only the imports changed (vit_np.tutorial.load), from the same weights and the same batches.

Checked: the parameter count, the logits, the loss, every parameter's gradient and its value after
one AdamW step (train_one_epoch), evaluate()'s accuracy and loss (`torch.max(outputs.data, 1)`,
`(predicted == labels).sum().item()`), and visualize_attention's upsampled [CLS] maps and labels.
Both attention classes of the tutorial, in float64 (tight) and float32 (the tutorial's dtype).
Dropout is switched off (p = 0) on both sides: the two frameworks draw different masks.
Run alone: `pytest tests/test_tutorial.py`.
"""
from types import ModuleType

import numpy as np
import pytest
import torch

import minigrad
from minigrad.testing import TOLERANCES, assert_close
from vit_np.tutorial import load

CLASSES = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def batches(fw, dtype, sizes: tuple[int, ...], seed: int) -> list:
    """Random images and labels, made with the framework's own tensor(): the labels are a list of ints."""
    rng = np.random.default_rng(seed)
    out = []
    for n in sizes:
        images = fw.tensor(rng.standard_normal((n, 3, 32, 32)).astype(dtype))
        labels = fw.tensor(rng.integers(0, 10, size=n).tolist())  # int64 in both: class indices
        out.append((images, labels))
    return out


@pytest.fixture(scope="module", params=[True, False], ids=["FasterMultiHeadAttention", "MultiHeadAttention"])
def tutorials(request) -> tuple[ModuleType, ModuleType]:
    torch.manual_seed(0)
    ours, theirs = load("minigrad"), load("torch")
    for t in (ours, theirs):  # the tutorial's "3. Training Setup" for this attention class
        t.config["use_faster_attention"] = request.param
        t.model = t.ViTForClassfication(t.config).to(t.device)
        t.optimizer = t.optim.AdamW(t.model.parameters(), lr=1e-3, weight_decay=1e-2)
    return ours, theirs


@pytest.fixture(params=[np.float64, np.float32], ids=["f64", "f32"])
def pair(request, tutorials) -> tuple[ModuleType, ModuleType, type]:
    """Both tutorials with the same weights (PyTorch's, copied), dropout off, in one dtype, fresh AdamW."""
    dtype = request.param
    ours, theirs = tutorials
    theirs.model.to(torch.float64 if dtype == np.float64 else torch.float32)
    ours.model.to(dtype)
    ours.model.load_state_dict({k: v.detach().numpy() for k, v in theirs.model.state_dict().items()})
    for t in (ours, theirs):
        for m in t.model.modules():
            if isinstance(m, t.nn.Dropout):
                m.p = 0.0
        t.optimizer = t.optim.AdamW(t.model.parameters(), lr=1e-3, weight_decay=1e-2)
        fw = t.torch
        t.trainloader = batches(fw, dtype, (6,), seed=1)
        t.testloader = batches(fw, dtype, (12, 5), seed=2)
        t.classes = CLASSES
    return ours, theirs, dtype


def params(t: ModuleType) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, value, grad) of every parameter, as NumPy arrays."""
    def array(x):
        return x.detach().numpy() if x is not None else x
    return [(n, array(p.data), array(p.grad)) for n, p in t.model.named_parameters()]


def test_parameter_count_and_names(tutorials):
    ours, theirs = tutorials
    count = [sum(p.numel() for p in t.model.parameters() if p.requires_grad) for t in (ours, theirs)]
    assert count[0] == count[1]
    assert [(n, tuple(p.shape)) for n, p in ours.model.named_parameters()] == \
           [(n, tuple(p.shape)) for n, p in theirs.model.named_parameters()]


def test_logits_and_loss(pair):
    ours, theirs, dtype = pair
    tol = TOLERANCES[dtype]
    outputs = []
    for t in (ours, theirs):
        inputs, labels = t.trainloader[0]
        logits, _ = t.model(inputs.to(t.device))
        outputs.append((logits.detach().numpy(), t.loss_fn(logits, labels).item()))
    assert_close(outputs[0][0], outputs[1][0], "logits", **tol)
    assert outputs[0][1] == pytest.approx(outputs[1][1], rel=tol["rtol"])


def test_train_one_epoch_gradients_and_adamw_step(pair):
    """train_one_epoch: zero_grad, forward, CrossEntropyLoss, backward, AdamW step, loss.item()."""
    ours, theirs, dtype = pair
    tol = TOLERANCES[dtype]
    losses = [t.train_one_epoch(1) for t in (ours, theirs)]
    assert losses[0] == pytest.approx(losses[1], rel=tol["rtol"])
    grad_tol = tol if dtype == np.float64 else dict(rtol=1e-3, atol=1e-5)  # float32: sums over the whole batch
    # Adam's first step is lr * g / (|g| + eps): where |g| is near eps = 1e-8, float32 rounding of g moves the
    # step by up to a tenth of lr = 1e-3 (float64 checks the step tightly)
    step_tol = tol if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    for (name, p, g), (_, tp, tg) in zip(params(ours), params(theirs)):
        assert g.dtype == dtype, f"{name}: gradient dtype {g.dtype}"
        assert_close(g, tg, f"gradient of {name}", **grad_tol)
        assert_close(p, tp, f"{name} after one AdamW step", **step_tol)


def test_evaluate(pair):
    """evaluate(): no_grad, `_, predicted = torch.max(outputs.data, 1)`, `labels.size(0)`, `.sum().item()`."""
    ours, theirs, dtype = pair
    (acc, loss), (their_acc, their_loss) = ours.evaluate(), theirs.evaluate()
    assert acc == their_acc
    assert loss == pytest.approx(their_loss, rel=TOLERANCES[dtype]["rtol"])


def test_visualize_attention(pair):
    """The last block's [CLS] attention averaged over heads, viewed as 8 x 8, upsampled to 32 x 32."""
    ours, theirs, dtype = pair
    shown, their_shown = ours.visualize_attention(ours.model), theirs.visualize_attention(theirs.model)
    assert len(shown) == len(their_shown) == 10
    for i, ((img, attn, gt, pred), (t_img, t_attn, t_gt, t_pred)) in enumerate(zip(shown, their_shown)):
        assert attn.shape == (32, 32) and img.shape == (32, 32, 3)
        assert_close(img, t_img, f"image {i}", **TOLERANCES[dtype])
        assert_close(attn, t_attn, f"attention map {i}", **TOLERANCES[dtype])
        assert (gt, pred) == (t_gt, t_pred)
    assert minigrad.is_grad_enabled()  # @torch.no_grad() restored grad mode on the way out
