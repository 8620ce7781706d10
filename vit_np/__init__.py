"""vit_np: the tutorial's Vision Transformer on minigrad, with its CIFAR-10 data pipeline,
training loop and figures. Model: vit_np.model; data: vit_np.data; training: vit_np.train."""
from vit_np.config import ViTConfig
from vit_np.model import (
    ViTForClassfication, ViTForClassification, fused_to_per_head_state_dict, per_head_to_fused_state_dict,
)

__all__ = ["ViTConfig", "ViTForClassification", "ViTForClassfication", "fused_to_per_head_state_dict",
           "per_head_to_fused_state_dict"]
