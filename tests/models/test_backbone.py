"""The pretrained backbone: the package's weights load onto timm's network and classify real photos."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data

from hallmark.errors import ModelError
from models.backbone import MEAN, STD, _map_state_dict, build_backbone
from vision.preprocess import to_batch

# ImageNet classes of the cat family neighbourhood: tabby 281, tiger cat 282, Persian 283,
# Siamese 284, Egyptian cat 285.
CAT_CLASSES = {281, 282, 283, 284, 285}


@pytest.fixture(scope="module")
def backbone() -> torch.nn.Module:
    return build_backbone(pretrained=True)


def test_mapped_weights_classify_chelsea_the_cat_as_a_cat(backbone: torch.nn.Module) -> None:
    batch = torch.from_numpy(to_batch([data.chelsea()], 224, MEAN, STD))
    with torch.inference_mode():
        logits = backbone(batch)
    top5 = set(logits.topk(5).indices[0].tolist())
    assert int(logits.argmax()) in CAT_CLASSES
    assert len(top5 & CAT_CLASSES) >= 2


def test_mapped_weights_classify_a_coffee_mug_photo_as_a_cup(backbone: torch.nn.Module) -> None:
    # scikit-image's coffee: ImageNet 'cup' 968, 'espresso' 967, 'coffee mug' 504.
    batch = torch.from_numpy(to_batch([data.coffee()], 224, MEAN, STD))
    with torch.inference_mode():
        top5 = set(backbone(batch).topk(5).indices[0].tolist())
    assert top5 & {504, 967, 968}


def test_untrained_backbone_does_not_know_cats() -> None:
    torch.manual_seed(0)  # random initialisation, made repeatable
    untrained = build_backbone(pretrained=False)
    batch = torch.from_numpy(to_batch([data.chelsea()], 224, MEAN, STD))
    with torch.inference_mode():
        logits = untrained(batch)
    assert int(logits.argmax()) not in CAT_CLASSES


def test_weights_of_the_wrong_shape_are_refused(backbone: torch.nn.Module) -> None:
    source = {name: tensor.clone() for name, tensor in backbone.state_dict().items()}
    first = next(iter(source))
    source[first] = torch.zeros(1)
    with pytest.raises(ModelError, match="expects"):
        _map_state_dict(source, backbone)


def test_weights_with_missing_tensors_are_refused(backbone: torch.nn.Module) -> None:
    source = dict(list(backbone.state_dict().items())[:-2])
    with pytest.raises(ModelError, match="tensors"):
        _map_state_dict(source, backbone)


def test_batch_normalisation_matches_the_weights_training(backbone: torch.nn.Module) -> None:
    white = np.full((10, 10, 3), 255, dtype=np.uint8)
    black = np.zeros((10, 10, 3), dtype=np.uint8)
    batch = to_batch([white, black], 8, MEAN, STD)
    assert np.allclose(batch[0], 1.0) and np.allclose(batch[1], -1.0)
