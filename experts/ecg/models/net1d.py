"""ECGFounder's backbone: Net1D, a 1-D CNN of bottleneck blocks with
squeeze-and-excitation (Hong et al., the network of the ECGFounder paper,
Li et al., NEJM AI 2025).

Why our own definition: torchvision-style hub code must not run, and the
released checkpoints are plain `state_dict`s; a module tree with the same
parameter names (`first_conv.conv`, `stage_list.{i}.block_list.{j}.conv1…`,
`se_fc1/2`, `dense`) loads them with `strict=True`, which is the test that
the architecture is the published one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvSame(nn.Module):
    """Conv1d with TensorFlow-style SAME padding: output length ceil(n / stride)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, groups: int = 1):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride, groups=groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[-1]
        out = (n + self.stride - 1) // self.stride
        pad = max(0, (out - 1) * self.stride + self.kernel_size - n)
        return self.conv(F.pad(x, (pad // 2, pad - pad // 2)))


class MaxPoolSame(nn.Module):
    def __init__(self, kernel_size: int):
        super().__init__()
        self.kernel_size = kernel_size
        self.pool = nn.MaxPool1d(kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = max(0, self.kernel_size - 1)
        return self.pool(F.pad(x, (pad // 2, pad - pad // 2)))


class Swish(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


class Block(nn.Module):
    """1×1 conv → k conv (grouped, maybe strided) → 1×1 conv, channel
    squeeze-and-excitation (reduction 2), residual with max-pooled and
    zero-padded identity. Batch norm and dropout are optional (ECGFounder
    trains without them, but the norm layers exist in its checkpoints)."""

    def __init__(self, cin: int, cout: int, ratio: float, kernel: int, stride: int, groups: int,
                 downsample: bool, first: bool, use_bn: bool, use_do: bool):
        super().__init__()
        self.cin, self.cout, self.downsample, self.first = cin, cout, downsample, first
        self.use_bn, self.use_do = use_bn, use_do
        stride = stride if downsample else 1
        mid = int(cout * ratio)
        self.bn1, self.activation1, self.do1 = nn.BatchNorm1d(cin), Swish(), nn.Dropout(0.5)
        self.conv1 = ConvSame(cin, mid, 1, 1)
        self.bn2, self.activation2, self.do2 = nn.BatchNorm1d(mid), Swish(), nn.Dropout(0.5)
        self.conv2 = ConvSame(mid, mid, kernel, stride, groups=groups)
        self.bn3, self.activation3, self.do3 = nn.BatchNorm1d(mid), Swish(), nn.Dropout(0.5)
        self.conv3 = ConvSame(mid, cout, 1, 1)
        self.se_fc1 = nn.Linear(cout, cout // 2)
        self.se_fc2 = nn.Linear(cout // 2, cout)
        self.se_activation = Swish()
        if downsample:
            self.max_pool = MaxPoolSame(stride)

    def _pre(self, x, bn, act, do):
        if self.use_bn:
            x = bn(x)
        x = act(x)
        return do(x) if self.use_do else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x if self.first else self._pre(x, self.bn1, self.activation1, self.do1)
        out = self.conv1(out)
        out = self.conv2(self._pre(out, self.bn2, self.activation2, self.do2))
        out = self.conv3(self._pre(out, self.bn3, self.activation3, self.do3))
        se = torch.sigmoid(self.se_fc2(self.se_activation(self.se_fc1(out.mean(-1)))))
        out = out * se.unsqueeze(-1)
        identity = self.max_pool(x) if self.downsample else x
        if self.cout != self.cin:
            extra = self.cout - self.cin
            identity = F.pad(identity.transpose(-1, -2), (extra // 2, extra - extra // 2)).transpose(-1, -2)
        return out + identity


class Stage(nn.Module):
    def __init__(self, cin: int, cout: int, ratio: float, kernel: int, stride: int, groups: int, index: int,
                 blocks: int, use_bn: bool, use_do: bool):
        super().__init__()
        self.block_list = nn.ModuleList(
            Block(cin if b == 0 else cout, cout, ratio, kernel, stride, groups, downsample=b == 0,
                  first=index == 0 and b == 0, use_bn=use_bn, use_do=use_do)
            for b in range(blocks)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.block_list:
            x = block(x)
        return x


class Net1D(nn.Module):
    def __init__(self, in_channels: int, base_filters: int, ratio: float, filter_list: list[int], m_blocks_list: list[int],
                 kernel_size: int, stride: int, groups_width: int, n_classes: int, use_bn: bool = False, use_do: bool = False):
        super().__init__()
        self.use_bn = use_bn
        self.first_conv = ConvSame(in_channels, base_filters, kernel_size, 2)
        self.first_bn = nn.BatchNorm1d(base_filters)
        self.first_activation = Swish()
        stages, cin = [], base_filters
        for i, (cout, m) in enumerate(zip(filter_list, m_blocks_list)):
            stages.append(Stage(cin, cout, ratio, kernel_size, stride, cout // groups_width, i, m, use_bn, use_do))
            cin = cout
        self.stage_list = nn.ModuleList(stages)
        self.dense = nn.Linear(cin, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        out = self.first_conv(x)
        if self.use_bn:
            out = self.first_bn(out)
        out = self.first_activation(out)
        for stage in self.stage_list:
            out = stage(out)
        return out.mean(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense(self.features(x))


# The published configuration (12-lead and single-lead models differ only in input channels).
ECGFOUNDER_CONFIG = dict(
    base_filters=64, ratio=1, filter_list=[64, 160, 160, 400, 400, 1024, 1024], m_blocks_list=[2, 2, 2, 3, 3, 4, 4],
    kernel_size=16, stride=2, groups_width=16, use_bn=False, use_do=False,
)


def ecgfounder_net(in_channels: int = 12, n_classes: int = 150) -> Net1D:
    return Net1D(in_channels=in_channels, n_classes=n_classes, **ECGFOUNDER_CONFIG)
