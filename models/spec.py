"""What the descriptor network expects and returns; torch-free so the inference path stays light."""

from __future__ import annotations

#: Normalisation the weights were trained with (TensorFlow's EfficientNet-Lite preprocessing).
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)
#: Channels of the backbone's last feature map, and so of the GeM descriptor.
FEATURE_CHANNELS = 1280
DESCRIPTOR_DIM = FEATURE_CHANNELS
#: GeM exponent: 3 is the usual choice for retrieval with ImageNet CNNs (Radenovic et al.).
GEM_P = 3.0
