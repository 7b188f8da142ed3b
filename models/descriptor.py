"""The descriptor network: backbone features, GeM pooling, L2 normalisation."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.backbone import build_backbone
from models.spec import GEM_P


class GeM(nn.Module):
    """Generalised-mean pooling over the spatial dimensions."""

    def __init__(self, p: float = GEM_P, eps: float = 1e-6) -> None:
        super().__init__()
        self.p = p
        self.eps = eps

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        pooled = features.clamp(min=self.eps).pow(self.p).mean(dim=(-2, -1))
        return pooled.pow(1.0 / self.p)


class DescriptorNet(nn.Module):
    """Maps a normalised image batch ``(N, 3, H, W)`` to L2-normalised descriptors ``(N, 1280)``."""

    def __init__(self, backbone: nn.Module | None = None) -> None:
        super().__init__()
        self.backbone = backbone if backbone is not None else build_backbone(pretrained=True)
        self.pool = GeM()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.forward_with_features(images)[0]

    def forward_with_features(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Descriptors ``(N, 1280)`` and the feature map ``(N, 1280, h, w)`` they were pooled from.

        The map lets the matcher pool regions of the photo (see :mod:`models.regions`) without a
        second pass through the network.
        """
        features = self.backbone.forward_features(images)  # type: ignore[operator]
        return F.normalize(self.pool(features), dim=-1), features


class DescriptorAndFeatures(nn.Module):
    """The exported graph: :class:`DescriptorNet` with the feature map as a second output."""

    def __init__(self, network: DescriptorNet) -> None:
        super().__init__()
        self.network = network

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.network.forward_with_features(images)
