"""Write the expected state-dict keys and shapes of torchvision's
`deeplabv3_resnet50` (EchoNet head) and `r2plus1d_18` (fc -> 1) from the
architecture recipes alone, without instantiating any module.

Why a second, independent derivation: a test that compares our modules with
a manifest produced *by* our modules proves nothing. This file restates
torchvision's recipes as data (layer counts, widths, which convs carry a
bias, what each BatchNorm stores, how IntermediateLayerGetter and
nn.Sequential name their children), and the test checks that both routes
agree and that the totals match torchvision's published parameter counts
(42,004,074 for deeplabv3_resnet50 with 21 classes and aux classifier;
31,505,325 for r2plus1d_18 with 400 classes).

Run `python -m experts.echo.models.layout_spec` to rewrite
`layout_manifest.json`.
"""

from __future__ import annotations

import json
from pathlib import Path

MANIFEST = Path(__file__).with_name("layout_manifest.json")

Entry = tuple[str, list[int]]


def _bn(prefix: str, c: int) -> list[Entry]:
    """BatchNorm{2,3}d: affine weight/bias plus running stats and counter
    (num_batches_tracked is a 0-d buffer since torch 0.4.1)."""
    return [(f"{prefix}.weight", [c]), (f"{prefix}.bias", [c]), (f"{prefix}.running_mean", [c]), (f"{prefix}.running_var", [c]), (f"{prefix}.num_batches_tracked", [])]


def _conv(prefix: str, out_c: int, in_c: int, kernel: list[int], bias: bool = False) -> list[Entry]:
    e = [(f"{prefix}.weight", [out_c, in_c, *kernel])]
    if bias:
        e.append((f"{prefix}.bias", [out_c]))
    return e


def deeplabv3_resnet50_keys(num_classes: int = 1, aux: bool = False) -> list[Entry]:
    keys: list[Entry] = []
    b = "backbone"
    keys += _conv(f"{b}.conv1", 64, 3, [7, 7]) + _bn(f"{b}.bn1", 64)
    inplanes = 64
    for li, (planes, blocks) in enumerate([(64, 3), (128, 4), (256, 6), (512, 3)], start=1):
        for bi in range(blocks):
            p = f"{b}.layer{li}.{bi}"
            keys += _conv(f"{p}.conv1", planes, inplanes, [1, 1]) + _bn(f"{p}.bn1", planes)
            keys += _conv(f"{p}.conv2", planes, planes, [3, 3]) + _bn(f"{p}.bn2", planes)
            keys += _conv(f"{p}.conv3", planes * 4, planes, [1, 1]) + _bn(f"{p}.bn3", planes * 4)
            if bi == 0:  # first block of every layer changes width -> 1x1 projection
                keys += _conv(f"{p}.downsample.0", planes * 4, inplanes, [1, 1]) + _bn(f"{p}.downsample.1", planes * 4)
            inplanes = planes * 4
    c = "classifier.0"  # ASPP
    keys += _conv(f"{c}.convs.0.0", 256, 2048, [1, 1]) + _bn(f"{c}.convs.0.1", 256)
    for i in (1, 2, 3):  # ASPPConv(rate 12, 24, 36) = Sequential(conv, bn, relu)
        keys += _conv(f"{c}.convs.{i}.0", 256, 2048, [3, 3]) + _bn(f"{c}.convs.{i}.1", 256)
    keys += _conv(f"{c}.convs.4.1", 256, 2048, [1, 1]) + _bn(f"{c}.convs.4.2", 256)  # ASPPPooling: [pool, conv, bn, relu]
    keys += _conv(f"{c}.project.0", 256, 5 * 256, [1, 1]) + _bn(f"{c}.project.1", 256)
    keys += _conv("classifier.1", 256, 256, [3, 3]) + _bn("classifier.2", 256)
    keys += _conv("classifier.4", num_classes, 256, [1, 1], bias=True)
    if aux:  # FCNHead(1024, num_classes)
        keys += _conv("aux_classifier.0", 256, 1024, [3, 3]) + _bn("aux_classifier.1", 256)
        keys += _conv("aux_classifier.4", num_classes, 256, [1, 1], bias=True)
    return keys


def r2plus1d_18_keys(num_classes: int = 1) -> list[Entry]:
    keys: list[Entry] = []
    keys += _conv("stem.0", 45, 3, [1, 7, 7]) + _bn("stem.1", 45)
    keys += _conv("stem.3", 64, 45, [3, 1, 1]) + _bn("stem.4", 64)
    inplanes = 64
    for li, planes in enumerate([64, 128, 256, 512], start=1):
        for bi in range(2):
            p = f"layer{li}.{bi}"
            mid = (inplanes * planes * 27) // (inplanes * 9 + 3 * planes)
            # conv1 = Sequential(Conv2Plus1D(in->mid->planes), BN, ReLU)
            keys += _conv(f"{p}.conv1.0.0", mid, inplanes, [1, 3, 3]) + _bn(f"{p}.conv1.0.1", mid)
            keys += _conv(f"{p}.conv1.0.3", planes, mid, [3, 1, 1]) + _bn(f"{p}.conv1.1", planes)
            # conv2 = Sequential(Conv2Plus1D(planes->mid->planes), BN), same midplanes
            keys += _conv(f"{p}.conv2.0.0", mid, planes, [1, 3, 3]) + _bn(f"{p}.conv2.0.1", mid)
            keys += _conv(f"{p}.conv2.0.3", planes, mid, [3, 1, 1]) + _bn(f"{p}.conv2.1", planes)
            if bi == 0 and li > 1:  # stride 2 -> Conv3d 1x1x1 + BN projection
                keys += _conv(f"{p}.downsample.0", planes, inplanes, [1, 1, 1]) + _bn(f"{p}.downsample.1", planes)
            inplanes = planes
    keys += [("fc.weight", [num_classes, 512]), ("fc.bias", [num_classes])]
    return keys


def parameter_count(keys: list[Entry]) -> int:
    """Trainable parameters (BN running stats and counters excluded)."""
    total = 0
    for name, shape in keys:
        if name.endswith(("running_mean", "running_var", "num_batches_tracked")):
            continue
        n = 1
        for d in shape:
            n *= d
        total += n
    return total


def build_manifest() -> dict:
    models = {
        "deeplabv3_resnet50_echonet": (deeplabv3_resnet50_keys(1, aux=False), "torchvision.models.segmentation.deeplabv3_resnet50(weights=None, weights_backbone=None, aux_loss=False); classifier[-1] = Conv2d(256, 1, 1) as in echonet/utils/segmentation.py"),
        "r2plus1d_18_echonet": (r2plus1d_18_keys(1), "torchvision.models.video.r2plus1d_18(weights=None); fc = Linear(512, 1) as in echonet/utils/video.py"),
    }
    return {
        name: {"recipe": recipe, "num_parameters": parameter_count(keys), "num_entries": len(keys), "keys": [[k, s] for k, s in keys]}
        for name, (keys, recipe) in models.items()
    }


if __name__ == "__main__":
    MANIFEST.write_text(json.dumps(build_manifest(), indent=1) + "\n")
    print(f"wrote {MANIFEST}")
