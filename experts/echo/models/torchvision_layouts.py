"""EchoNet-Dynamic's two networks, rebuilt module for module so that their
published state dicts load without torchvision.

Why rebuild: torchvision cannot be installed here (it would pull a CUDA
torch), EchoNet's weights are not redistributable, and a user who has them
must be able to point us at the file. A state dict only loads if every
parameter and buffer has the same dotted name and shape, so the module
*tree* below mirrors torchvision's:

* `deeplabv3_resnet50(num_classes=1)` = torchvision
  `models.segmentation.deeplabv3_resnet50(weights=None, weights_backbone=None,
  aux_loss=False)` with `classifier[-1]` replaced by a 1-channel 1x1 conv
  (what `echonet/utils/segmentation.py` does). Backbone: ResNet-50 (v1.5,
  stride on the 3x3 conv) with strides of layer3/layer4 replaced by
  dilation 2/4, wrapped like `IntermediateLayerGetter` (a ModuleDict of the
  children up to layer4, so `avgpool`/`fc` have no keys). Head:
  `DeepLabHead` = [ASPP(rates 12, 24, 36), 3x3 conv, BN, ReLU, 1x1 conv].
* `r2plus1d_18(num_classes=1)` = torchvision `models.video.r2plus1d_18
  (weights=None)` with `fc` replaced by `Linear(512, 1)` (EchoNet's EF
  regressor). (2+1)D blocks factor each 3x3x3 conv into a 1x3x3 spatial
  conv to `midplanes` channels, BN, ReLU and a 3x1x1 temporal conv, with
  midplanes = (in*out*27) // (in*9 + 3*out) computed once per block.

The key/shape manifest in `layout_manifest.json` is generated independently
from these recipes by `layout_spec.py`; tests compare both.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torch.nn import functional as F

# --------------------------------------------------------------------------
# ResNet-50 backbone (torchvision.models.resnet layout)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None, dilation: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet50Features(nn.ModuleDict):
    """ResNet-50 up to layer4 as torchvision's IntermediateLayerGetter holds
    it (a ModuleDict of children), returning {"out": layer4 features}."""

    def __init__(self, replace_stride_with_dilation: tuple[bool, bool, bool] = (False, True, True)):
        self._inplanes = 64
        self._dilation = 1
        layers = OrderedDict()
        layers["conv1"] = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        layers["bn1"] = nn.BatchNorm2d(64)
        layers["relu"] = nn.ReLU(inplace=True)
        layers["maxpool"] = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        layers["layer1"] = self._make_layer(64, 3)
        layers["layer2"] = self._make_layer(128, 4, stride=2, dilate=replace_stride_with_dilation[0])
        layers["layer3"] = self._make_layer(256, 6, stride=2, dilate=replace_stride_with_dilation[1])
        layers["layer4"] = self._make_layer(512, 3, stride=2, dilate=replace_stride_with_dilation[2])
        super().__init__(layers)

    def _make_layer(self, planes: int, blocks: int, stride: int = 1, dilate: bool = False) -> nn.Sequential:
        previous_dilation = self._dilation
        if dilate:
            self._dilation *= stride
            stride = 1
        downsample = None
        if stride != 1 or self._inplanes != planes * Bottleneck.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self._inplanes, planes * Bottleneck.expansion, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * Bottleneck.expansion),
            )
        mods = [Bottleneck(self._inplanes, planes, stride, downsample, previous_dilation)]
        self._inplanes = planes * Bottleneck.expansion
        mods += [Bottleneck(self._inplanes, planes, dilation=self._dilation) for _ in range(1, blocks)]
        return nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        for module in self.values():
            x = module(x)
        return {"out": x}


# --------------------------------------------------------------------------
# DeepLabV3 head (torchvision.models.segmentation.deeplabv3 layout)


class ASPPPooling(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(nn.AdaptiveAvgPool2d(1), nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        for module in self:
            x = module(x)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class ASPP(nn.Module):
    def __init__(self, in_channels: int, atrous_rates: tuple[int, ...] = (12, 24, 36), out_channels: int = 256):
        super().__init__()
        branches: list[nn.Module] = [nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU())]
        for rate in atrous_rates:
            branches.append(
                nn.Sequential(
                    nn.Conv2d(in_channels, out_channels, 3, padding=rate, dilation=rate, bias=False),
                    nn.BatchNorm2d(out_channels),
                    nn.ReLU(),
                )
            )
        branches.append(ASPPPooling(in_channels, out_channels))
        self.convs = nn.ModuleList(branches)
        self.project = nn.Sequential(
            nn.Conv2d(len(branches) * out_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            nn.Dropout(0.5),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(torch.cat([branch(x) for branch in self.convs], dim=1))


def deeplab_head(in_channels: int, num_classes: int) -> nn.Sequential:
    return nn.Sequential(
        ASPP(in_channels, (12, 24, 36)),
        nn.Conv2d(256, 256, 3, padding=1, bias=False),
        nn.BatchNorm2d(256),
        nn.ReLU(),
        nn.Conv2d(256, num_classes, 1),
    )


def fcn_head(in_channels: int, channels: int) -> nn.Sequential:
    """torchvision's FCNHead (the auxiliary classifier when aux_loss=True)."""
    inter = in_channels // 4
    return nn.Sequential(
        nn.Conv2d(in_channels, inter, 3, padding=1, bias=False),
        nn.BatchNorm2d(inter),
        nn.ReLU(),
        nn.Dropout(0.1),
        nn.Conv2d(inter, channels, 1),
    )


class DeepLabV3(nn.Module):
    """Same attributes as torchvision's `_SimpleSegmentationModel`:
    backbone, classifier, aux_classifier; forward returns {"out": logits}."""

    def __init__(self, num_classes: int = 1, aux_loss: bool = False):
        super().__init__()
        self.backbone = ResNet50Features()
        self.classifier = deeplab_head(2048, num_classes)
        self.aux_classifier = fcn_head(1024, num_classes) if aux_loss else None

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        size = x.shape[-2:]
        feats = x
        aux_in = None
        for name, module in self.backbone.items():
            feats = module(feats)
            if name == "layer3":
                aux_in = feats
        out = F.interpolate(self.classifier(feats), size=size, mode="bilinear", align_corners=False)
        result = OrderedDict(out=out)
        if self.aux_classifier is not None and aux_in is not None:
            result["aux"] = F.interpolate(self.aux_classifier(aux_in), size=size, mode="bilinear", align_corners=False)
        return result


def deeplabv3_resnet50(num_classes: int = 1, aux_loss: bool = False) -> DeepLabV3:
    """EchoNet-Dynamic's segmentation network (random init; nothing is
    downloaded). num_classes=21, aux_loss=True gives torchvision's COCO
    layout, used only to check parameter counts."""
    return DeepLabV3(num_classes=num_classes, aux_loss=aux_loss)


# --------------------------------------------------------------------------
# R(2+1)D-18 (torchvision.models.video.resnet layout)


class Conv2Plus1D(nn.Sequential):
    def __init__(self, in_planes: int, out_planes: int, midplanes: int, stride: int = 1, padding: int = 1):
        super().__init__(
            nn.Conv3d(in_planes, midplanes, kernel_size=(1, 3, 3), stride=(1, stride, stride), padding=(0, padding, padding), bias=False),
            nn.BatchNorm3d(midplanes),
            nn.ReLU(inplace=True),
            nn.Conv3d(midplanes, out_planes, kernel_size=(3, 1, 1), stride=(stride, 1, 1), padding=(padding, 0, 0), bias=False),
        )


class BasicBlock3d(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        midplanes = (inplanes * planes * 3 * 3 * 3) // (inplanes * 3 * 3 + 3 * planes)
        self.conv1 = nn.Sequential(Conv2Plus1D(inplanes, planes, midplanes, stride), nn.BatchNorm3d(planes), nn.ReLU(inplace=True))
        self.conv2 = nn.Sequential(Conv2Plus1D(planes, planes, midplanes), nn.BatchNorm3d(planes))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv2(self.conv1(x)) + residual)


class R2Plus1dStem(nn.Sequential):
    def __init__(self):
        super().__init__(
            nn.Conv3d(3, 45, kernel_size=(1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
            nn.BatchNorm3d(45),
            nn.ReLU(inplace=True),
            nn.Conv3d(45, 64, kernel_size=(3, 1, 1), stride=(1, 1, 1), padding=(1, 0, 0), bias=False),
            nn.BatchNorm3d(64),
            nn.ReLU(inplace=True),
        )


class VideoResNet(nn.Module):
    def __init__(self, layers: tuple[int, int, int, int] = (2, 2, 2, 2), num_classes: int = 1):
        super().__init__()
        self._inplanes = 64
        self.stem = R2Plus1dStem()
        self.layer1 = self._make_layer(64, layers[0], stride=1)
        self.layer2 = self._make_layer(128, layers[1], stride=2)
        self.layer3 = self._make_layer(256, layers[2], stride=2)
        self.layer4 = self._make_layer(512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.fc = nn.Linear(512 * BasicBlock3d.expansion, num_classes)

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self._inplanes != planes:
            downsample = nn.Sequential(
                nn.Conv3d(self._inplanes, planes, kernel_size=1, stride=(stride, stride, stride), bias=False),
                nn.BatchNorm3d(planes),
            )
        mods = [BasicBlock3d(self._inplanes, planes, stride, downsample)]
        self._inplanes = planes
        mods += [BasicBlock3d(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def r2plus1d_18(num_classes: int = 1) -> VideoResNet:
    """EchoNet-Dynamic's EF regressor (fc -> 1); num_classes=400 gives the
    Kinetics layout, used only to check parameter counts."""
    return VideoResNet((2, 2, 2, 2), num_classes=num_classes)
