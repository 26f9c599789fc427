"""Small image classifiers written in plain torch (torchvision cannot be imported here).

Two architectures, both taking RGB batches ``(N, 3, H, W)`` of any size and
returning logits ``(N, num_classes)``:

- ``mobilenet_v2``: MobileNetV2 (Sandler et al., 2018), the paper's model,
  with a width multiplier and strides adapted to small inputs.
- ``resnet20``: the CIFAR ResNet-20 of He et al. (2016, section 4.2), with
  standard ``nn.BatchNorm2d`` layers (a teacher for BatchNorm-statistics
  inversion).

``build_model("resnet20", num_classes=4)`` builds one by name;
:data:`ARCHITECTURES` is the registry.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from spinml import checks

__all__ = ["ARCHITECTURES", "MobileNetV2", "ResNet20", "build_model"]


def _make_divisible(channels: float, divisor: int = 8) -> int:
    """Round ``channels`` to a nearest multiple of ``divisor``, but never more than
    10 % down (the rounding of the MobileNet reference implementation)."""
    rounded = max(divisor, int(channels + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * channels:
        rounded += divisor
    return rounded


def _conv_bn_relu6(c_in: int, c_out: int, kernel: int, stride: int,
                   groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expansion to ``t * c_in`` channels, 3x3 depthwise
    convolution with stride ``s``, linear 1x1 projection to ``c_out``; the input
    is added back when ``s == 1`` and ``c_in == c_out``."""

    def __init__(self, c_in: int, c_out: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = c_in * expansion
        layers = [] if expansion == 1 else [_conv_bn_relu6(c_in, hidden, 1, 1)]
        layers += [
            _conv_bn_relu6(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        ]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return x + out if self.residual else out


class MobileNetV2(nn.Module):
    """MobileNetV2 with width multiplier ``width`` and strides chosen for ``image_size``.

    The ImageNet network halves the resolution five times (total stride 32, a
    7x7 map at 224 px). Here it halves ``k = min(5, floor(log2(image_size / 4)))``
    times, so the last feature map is at least 4x4 pixels: the first ``5 - k``
    stride-2 layers (the stem first, then the first layer of the 24-, 32-, 64-
    and 160-channel stages) get stride 1. At 32 px that is the usual CIFAR
    variant (total stride 8); at 64 px the stem alone has stride 1 (stride 16).

    Every layer's channel count is ``width`` times the original's, rounded to
    a multiple of 8; the last 1x1 convolution keeps ``1280 * max(1, width)``
    channels. Dropout ``dropout`` sits before the linear classifier. The
    default ``width=0.5`` has 0.7 M parameters (10 classes), 2.2 M at 1.0.

    Initialisation: He-normal over each filter's fan-out, BatchNorm scale 1
    but 0 in the last BatchNorm of each residual block (Goyal et al., 2017),
    so that a few hundred steps from scratch suffice on small data sets.
    """

    # (expansion t, channels c, repeats n, stride s) of Table 2 of the paper.
    STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
              (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))

    def __init__(self, num_classes: int, width: float = 0.5, image_size: int = 224,
                 dropout: float = 0.2) -> None:
        super().__init__()
        checks.positive_number(width, "width")
        if image_size < 4:
            raise ValueError(f"image_size must be at least 4 pixels, got {image_size!r}")
        halvings = min(5, int(math.log2(image_size / 4)))
        stride_one = 5 - halvings  # how many of the original stride-2 layers keep full size

        c_in = _make_divisible(32 * width)
        layers: list[nn.Module] = [_conv_bn_relu6(3, c_in, 3, 1 if stride_one > 0 else 2)]
        downsamples = 1  # the stem was the first stride-2 layer
        for t, c, n, s in self.STAGES:
            c_out = _make_divisible(c * width)
            for i in range(n):
                stride = s if i == 0 else 1
                if stride == 2:
                    stride = 1 if downsamples < stride_one else 2
                    downsamples += 1
                layers.append(InvertedResidual(c_in, c_out, stride, t))
                c_in = c_out
        self.last_channels = _make_divisible(1280 * max(1.0, width))
        layers.append(_conv_bn_relu6(c_in, self.last_channels, 1, 1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(dropout),
                                        nn.Linear(self.last_channels, num_classes))
        self.width = width
        self.image_size = image_size
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                # He init over each filter's true fan-out, k*k*c_out/groups: 9 for a
                # depthwise 3x3, where torch's kaiming_normal_ would count c_out*9
                # and start the layer with outputs ~100x too small.
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)
        for block in self.features:
            if isinstance(block, InvertedResidual) and block.residual:
                nn.init.zeros_(block.block[-1].weight)  # the block starts as the identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm; identity shortcut. When the block
    halves the resolution, the shortcut subsamples by 2 and zero-pads the new
    channels (option A of He et al., parameter-free)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.stride = stride
        self.extra_channels = c_out - c_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x[:, :, :: self.stride, :: self.stride]
        if self.extra_channels:
            pad = self.extra_channels // 2
            shortcut = F.pad(shortcut, (0, 0, 0, 0, pad, self.extra_channels - pad))
        return F.relu(out + shortcut)


class ResNet20(nn.Module):
    """CIFAR ResNet-20: a 3x3 convolution to 16 channels, then 3 stages of 3
    :class:`BasicBlock` with 16, 32 and 64 channels (the 2nd and 3rd stages
    start with stride 2), global average pooling and a linear layer:
    ``6 * 3 + 2 = 20`` weight layers, 0.27 M parameters. Works at any input
    size; the last map is ``H/4 x W/4``."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, 1, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        blocks: list[nn.Module] = []
        c_in = 16
        for c_out, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(3):
                blocks.append(BasicBlock(c_in, c_out, stride if i == 0 else 1))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(F.relu(self.bn(self.conv(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    "mobilenet_v2": MobileNetV2,
    "resnet20": ResNet20,
}
"""Architecture name -> constructor ``(num_classes, **kwargs) -> nn.Module``."""


def build_model(arch: str, num_classes: int, image_size: int | None = None,
                **kwargs: object) -> nn.Module:
    """Build architecture ``arch`` (a key of :data:`ARCHITECTURES`) with
    ``num_classes`` outputs.

    ``image_size`` (the input's side in pixels) is passed on to architectures
    that choose their strides by it (``mobilenet_v2``); ``kwargs`` go to the
    constructor, e.g. ``build_model("mobilenet_v2", 4, 64, width=0.5)``.
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; known: {sorted(ARCHITECTURES)}")
    checks.positive_int(num_classes, "num_classes")
    constructor = ARCHITECTURES[arch]
    if image_size is not None and "image_size" in inspect.signature(constructor).parameters:
        kwargs["image_size"] = image_size
    try:
        return constructor(num_classes, **kwargs)
    except TypeError as err:
        raise TypeError(f"architecture {arch!r}: {err}") from None
