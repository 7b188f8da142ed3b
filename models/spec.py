"""What the descriptor network expects and returns; torch-free so the inference path stays light.

Everything here is hashed into :func:`models.export.model_fingerprint`, so a change to any of it
re-embeds the catalogs' stored descriptors.
"""

from __future__ import annotations

#: Side of the square model input for catalog photos (packshots, brand photos, confirmed shop
#: photos): the size the backbone was trained at, where small packshots (about 200 px) keep their detail.
CATALOG_INPUT_SIZE = 224
#: Side of the square model input for listing photos. A shop photo shows the package smaller than
#: its packshot does (in a hand, on a shelf), so the listing is described larger, which brings the
#: package nearer the packshot's scale in the feature map. At 288 against 224, in paired refits:
#: product recall@1 +0.013 and micro-AP +0.014 (every draw up), copy micro-AP -0.005, the
#: network's cost per listing 1.6 times (``BENCHMARKS.md``, twelfth session).
LISTING_INPUT_SIZE = 288
#: Normalisation the weights were trained with (TensorFlow's EfficientNet-Lite preprocessing).
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)
#: Channels of the backbone's last feature map, and so of the GeM descriptor.
FEATURE_CHANNELS = 1280
DESCRIPTOR_DIM = FEATURE_CHANNELS
#: GeM exponent: 3 is the usual choice for retrieval with ImageNet CNNs (Radenovic et al.).
GEM_P = 3.0
