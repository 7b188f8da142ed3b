"""What the descriptor network expects and returns; torch-free so the inference path stays light.

Everything here is hashed into :func:`models.export.model_fingerprint`, so a change to any of it
re-embeds the catalogs' stored descriptors.
"""

from __future__ import annotations

#: Side of the square model input. Small packshots (about 200 px) and listing photos (300-500 px)
#: both carry their detail at this scale, and the backbone was trained at 224. Larger inputs trade
#: copies for product photos (``BENCHMARKS.md``, twelfth session).
INPUT_SIZE = 224
#: Normalisation the weights were trained with (TensorFlow's EfficientNet-Lite preprocessing).
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)
#: Channels of the backbone's last feature map, and so of the GeM descriptor.
FEATURE_CHANNELS = 1280
DESCRIPTOR_DIM = FEATURE_CHANNELS
#: GeM exponent: 3 is the usual choice for retrieval with ImageNet CNNs (Radenovic et al.).
GEM_P = 3.0
