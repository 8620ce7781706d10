"""vit_np.explain: [CLS] attention per block and head, the mean over them, and attention rollout."""
import numpy as np
import pytest

import minigrad as mg
from vit_np.config import ViTConfig
from vit_np.explain import attention_rollout, cls_attention, mean_cls_attention
from vit_np.model import ViTForClassification


@pytest.fixture(scope="module")
def attentions():
    """A tiny ViT's attention maps on 3 random images: 2 blocks x (3, 2 heads, 17, 17)."""
    mg.manual_seed(0)
    model = ViTForClassification(ViTConfig(patch_size=8, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                                           intermediate_size=16)).eval()
    x = np.random.default_rng(0).standard_normal((3, 3, 32, 32)).astype(np.float32)
    with mg.no_grad():
        _, maps = model(x, output_attentions=True)
    return [a.numpy() for a in maps]


def test_cls_attention_is_row_0_without_cls_on_the_patch_grid(attentions):
    maps = cls_attention(attentions)
    assert maps.shape == (3, 2, 2, 4, 4)
    for layer, a in enumerate(attentions):
        np.testing.assert_allclose(maps[:, layer], a[:, :, 0, 1:].reshape(3, 2, 4, 4), rtol=1e-6)


def test_mean_is_over_every_block_and_head(attentions):
    expected = np.mean([a[:, :, 0, 1:].mean(axis=1) for a in attentions], axis=0).reshape(3, 4, 4)
    np.testing.assert_allclose(mean_cls_attention(attentions), expected, rtol=1e-6)


def test_rollout_multiplies_each_blocks_mixing_with_the_skip(attentions):
    """R = A'_2 A'_1 with A' = (I + mean_h A) / 2, written per image with explicit matrices."""
    got = attention_rollout(attentions)
    for b in range(3):
        steps = [0.5 * np.eye(17) + 0.5 * a[b].astype(np.float64).mean(axis=0) for a in attentions]
        rolled = steps[1] @ steps[0]
        np.testing.assert_allclose(got[b], rolled[0, 1:].reshape(4, 4), rtol=1e-10)
        np.testing.assert_allclose(rolled.sum(axis=1), 1.0, rtol=1e-6)  # still a mixing: rows sum to 1


def test_rollout_of_attention_to_self_stays_on_cls_and_of_uniform_attention_spreads_evenly():
    own = [np.broadcast_to(np.eye(5), (1, 2, 5, 5))] * 3  # every token attends only to itself
    np.testing.assert_array_equal(attention_rollout(own), np.zeros((1, 2, 2)))
    uniform = [np.full((1, 2, 5, 5), 0.2)]
    np.testing.assert_allclose(attention_rollout(uniform, residual=0.0), np.full((1, 2, 2), 0.2))


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="one \\(B, heads, T, T\\) attention array per block"):
        cls_attention([np.zeros((2, 3, 5))])
    with pytest.raises(ValueError, match="6 patch tokens do not form a square grid"):
        cls_attention([np.zeros((1, 1, 7, 7))])
    with pytest.raises(ValueError, match="residual must be in \\[0, 1\\)"):
        attention_rollout([np.zeros((1, 1, 5, 5))], residual=1.0)
