# PyTorch "Learn the Basics": Tensors (tensorqs_tutorial.py), "Attributes of a Tensor" and the first
# cell of "Operations on Tensors" (it moves that tensor to the accelerator)
# %%
import torch
import numpy as np

# %%
tensor = torch.rand(3,4)

print(f"Shape of tensor: {tensor.shape}")
print(f"Datatype of tensor: {tensor.dtype}")
print(f"Device tensor is stored on: {tensor.device}")

# %%
# We move our tensor to the current accelerator if available
if torch.accelerator.is_available():
    tensor = tensor.to(torch.accelerator.current_accelerator())
