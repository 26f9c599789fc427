"""The architectures: output shapes at the sizes the project uses, strides,
parameter counts and the registry's errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spinml.train import ARCHITECTURES, build_model
from spinml.train.architectures import MobileNetV2, ResNet20


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
@pytest.mark.parametrize("size", [32, 64])
def test_logits_shape(arch: str, size: int) -> None:
    torch.manual_seed(0)
    model = build_model(arch, num_classes=4, image_size=size)
    x = torch.randn(2, 3, size, size)
    assert model(x).shape == (2, 4)
    model.eval()
    with torch.no_grad():
        assert model(x).shape == (2, 4)


@pytest.mark.parametrize(("size", "last_map"), [(16, 4), (32, 4), (64, 4), (224, 7)])
def test_mobilenet_downsamples_to_at_least_4x4(size: int, last_map: int) -> None:
    model = MobileNetV2(num_classes=3, image_size=size)
    with torch.no_grad():
        features = model.features(torch.zeros(1, 3, size, size))
    assert features.shape[-2:] == (last_map, last_map)
    assert features.shape[1] == model.last_channels == 1280


def test_mobilenet_width_scales_channels() -> None:
    def params(model: nn.Module) -> int:
        return sum(p.numel() for p in model.parameters())

    thin, wide = MobileNetV2(10, width=0.35), MobileNetV2(10, width=1.0)
    assert params(thin) < params(wide)
    convs = [m for m in wide.features.modules() if isinstance(m, nn.Conv2d)]
    assert all(c.out_channels % 8 == 0 for c in convs)
    # MobileNetV2's 3.5 M parameters less the 1000-way classifier's 1.28 M
    assert params(wide) == pytest.approx(2.24e6, rel=0.01)
    with pytest.raises(ValueError, match="width"):
        MobileNetV2(10, width=0)


def test_resnet20_is_the_cifar_network() -> None:
    model = ResNet20(num_classes=10)
    weight_layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(weight_layers) == 20
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(0.27e6, rel=0.02)
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert len(norms) == 19 and all(type(m) is nn.BatchNorm2d for m in norms)
    with torch.no_grad():
        feature_maps = model.blocks(model.conv(torch.zeros(1, 3, 32, 32)))
    assert feature_maps.shape == (1, 64, 8, 8)


def test_build_model_passes_its_settings() -> None:
    model = build_model("mobilenet_v2", 5, image_size=64, width=0.35)
    assert isinstance(model, MobileNetV2)
    assert (model.width, model.image_size) == (0.35, 64)
    assert isinstance(build_model("resnet20", 5, image_size=64), ResNet20)


def test_build_model_errors() -> None:
    with pytest.raises(ValueError, match="unknown architecture 'vgg16'.*mobilenet_v2"):
        build_model("vgg16", 10)
    with pytest.raises(ValueError, match="num_classes"):
        build_model("resnet20", 0)
    with pytest.raises(TypeError, match="resnet20"):
        build_model("resnet20", 10, width=0.5)
