"""The descriptor network: backbone features, GeM pooling, L2 normalisation."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.backbone import build_backbone

#: GeM exponent: 3 is the usual choice for retrieval with ImageNet CNNs (Radenovic et al.).
GEM_P = 3.0


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
        features = self.backbone.forward_features(images)  # type: ignore[operator]
        return F.normalize(self.pool(features), dim=-1)
