"""End-to-end variational network (Sriram et al., MICCAI 2020) with the
module tree of fastMRI's `fastmri.models.VarNet`.

Why re-implemented instead of imported: the `fastmri` package is not a
dependency, and MONAI 1.6's `monai.apps.reconstruction` VarNet uses
different module names (`coil_sensitivity_model.conv_net.unet.conv_0.conv_0
.conv.weight`, `cascades.N.model.unet…` built on `BasicUNet`, a `zeros`
buffer per block), so published fastMRI state dicts cannot load into it.
Here the attribute names and tensor shapes follow fastMRI exactly
(`sens_net.norm_unet.unet.down_sample_layers.0.layers.0.weight`,
`cascades.0.dc_weight`, …; see `fastmri_manifest.json`), so
`VarNet(num_cascades=12, pools=4, chans=18, sens_pools=4, sens_chans=8)`
loads fastMRI's published brain/knee leaderboard state dicts unchanged.

Tensors follow fastMRI: complex values as a trailing dimension of 2,
k-space (batch, coils, rows, cols, 2), mask broadcastable to it, bool.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

# --- complex helpers on (…, 2) real tensors ------------------------------------


def fft2c(x: torch.Tensor) -> torch.Tensor:
    c = torch.view_as_complex(x.contiguous())
    c = torch.fft.fftshift(torch.fft.fft2(torch.fft.ifftshift(c, dim=(-2, -1)), norm="ortho"), dim=(-2, -1))
    return torch.view_as_real(c)


def ifft2c(x: torch.Tensor) -> torch.Tensor:
    c = torch.view_as_complex(x.contiguous())
    c = torch.fft.fftshift(torch.fft.ifft2(torch.fft.ifftshift(c, dim=(-2, -1)), norm="ortho"), dim=(-2, -1))
    return torch.view_as_real(c)


def complex_mul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    re = a[..., 0] * b[..., 0] - a[..., 1] * b[..., 1]
    im = a[..., 0] * b[..., 1] + a[..., 1] * b[..., 0]
    return torch.stack((re, im), dim=-1)


def complex_conj(a: torch.Tensor) -> torch.Tensor:
    return torch.stack((a[..., 0], -a[..., 1]), dim=-1)


def complex_abs(a: torch.Tensor) -> torch.Tensor:
    return torch.sqrt((a**2).sum(dim=-1))


def rss_complex(a: torch.Tensor, dim: int) -> torch.Tensor:
    return torch.sqrt((a**2).sum(dim=-1).sum(dim=dim))


# --- U-Net (fastMRI layout) ------------------------------------------------------


class ConvBlock(nn.Module):
    """Two 3×3 convolutions, each with instance norm, LeakyReLU(0.2), dropout."""

    def __init__(self, in_chans: int, out_chans: int, drop_prob: float = 0.0):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(in_chans, out_chans, kernel_size=3, padding=1, bias=False),
            nn.InstanceNorm2d(out_chans),
            nn.LeakyReLU(negative_slope=0.2, inplace=True),
            nn.Dropout2d(drop_prob),
            nn.Conv2d(out_chans, out_chans, kernel_size=3, padding=1, bias=False),
            nn.InstanceNorm2d(out_chans),
            nn.LeakyReLU(negative_slope=0.2, inplace=True),
            nn.Dropout2d(drop_prob),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class TransposeConvBlock(nn.Module):
    """2×2 stride-2 transposed convolution, instance norm, LeakyReLU(0.2)."""

    def __init__(self, in_chans: int, out_chans: int):
        super().__init__()
        self.layers = nn.Sequential(
            nn.ConvTranspose2d(in_chans, out_chans, kernel_size=2, stride=2, bias=False),
            nn.InstanceNorm2d(out_chans),
            nn.LeakyReLU(negative_slope=0.2, inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class Unet(nn.Module):
    """Ronneberger U-Net with average pooling, as in fastMRI."""

    def __init__(self, in_chans: int, out_chans: int, chans: int = 32, num_pool_layers: int = 4, drop_prob: float = 0.0):
        super().__init__()
        widths = [chans * 2**i for i in range(num_pool_layers)]
        self.down_sample_layers = nn.ModuleList(
            [ConvBlock(in_chans if i == 0 else widths[i - 1], w, drop_prob) for i, w in enumerate(widths)]
        )
        self.conv = ConvBlock(widths[-1], widths[-1] * 2, drop_prob)
        self.up_transpose_conv = nn.ModuleList()
        self.up_conv = nn.ModuleList()
        for i, w in enumerate(reversed(widths)):
            self.up_transpose_conv.append(TransposeConvBlock(w * 2, w))
            if i < num_pool_layers - 1:
                self.up_conv.append(ConvBlock(w * 2, w, drop_prob))
            else:
                self.up_conv.append(nn.Sequential(ConvBlock(w * 2, w, drop_prob), nn.Conv2d(w, out_chans, kernel_size=1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for layer in self.down_sample_layers:
            x = layer(x)
            skips.append(x)
            x = F.avg_pool2d(x, kernel_size=2, stride=2)
        x = self.conv(x)
        for up, conv in zip(self.up_transpose_conv, self.up_conv):
            skip = skips.pop()
            x = up(x)
            pad = [0, int(x.shape[-1] != skip.shape[-1]), 0, int(x.shape[-2] != skip.shape[-2])]
            if any(pad):
                x = F.pad(x, pad, mode="reflect")
            x = conv(torch.cat([x, skip], dim=1))
        return x


class NormUnet(nn.Module):
    """U-Net on complex images: real/imag as channels, per-sample group
    normalisation, padding to a multiple of 16."""

    def __init__(self, chans: int, num_pools: int, in_chans: int = 2, out_chans: int = 2, drop_prob: float = 0.0):
        super().__init__()
        self.unet = Unet(in_chans, out_chans, chans, num_pools, drop_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w, _ = x.shape
        x = x.permute(0, 4, 1, 2, 3).reshape(b, 2 * c, h, w)
        flat = x.reshape(b, 2, c * h * w)
        mean = flat.mean(dim=2).view(b, 2, 1, 1)
        std = flat.std(dim=2).view(b, 2, 1, 1)
        x = (x.view(b, 2, c, h, w) - mean.unsqueeze(2)) / std.unsqueeze(2)
        x = x.view(b, 2 * c, h, w)
        h16, w16 = ((h - 1) | 15) + 1, ((w - 1) | 15) + 1
        hp = (math.floor((h16 - h) / 2), math.ceil((h16 - h) / 2))
        wp = (math.floor((w16 - w) / 2), math.ceil((w16 - w) / 2))
        x = F.pad(x, [wp[0], wp[1], hp[0], hp[1]])
        x = self.unet(x)
        x = x[..., hp[0] : h16 - hp[1], wp[0] : w16 - wp[1]]
        x = x.view(b, 2, c, h, w) * std.unsqueeze(2) + mean.unsqueeze(2)
        return x.permute(0, 2, 3, 4, 1).contiguous()


class SensitivityModel(nn.Module):
    """Coil sensitivities from the low-frequency (ACS) k-space: inverse FFT of
    the masked centre, a NormUnet per coil image, division by the RSS."""

    def __init__(self, chans: int, num_pools: int, in_chans: int = 2, out_chans: int = 2, drop_prob: float = 0.0):
        super().__init__()
        self.norm_unet = NormUnet(chans, num_pools, in_chans, out_chans, drop_prob)

    def forward(self, masked_kspace: torch.Tensor, num_low_frequencies: int) -> torch.Tensor:
        b, c, h, w, _ = masked_kspace.shape
        n = max(int(num_low_frequencies), 1)
        pad = (w - n + 1) // 2
        centre = torch.zeros_like(masked_kspace)
        centre[:, :, :, pad : pad + n] = masked_kspace[:, :, :, pad : pad + n]
        images = ifft2c(centre).reshape(b * c, 1, h, w, 2)
        maps = self.norm_unet(images).reshape(b, c, h, w, 2)
        return maps / rss_complex(maps, dim=1).unsqueeze(-1).unsqueeze(1)


class VarNetBlock(nn.Module):
    """One cascade: k ← k − η·M(k − k₀) − F S R(S* F⁻¹ k)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.dc_weight = nn.Parameter(torch.ones(1))

    def forward(self, current: torch.Tensor, ref: torch.Tensor, mask: torch.Tensor, sens: torch.Tensor) -> torch.Tensor:
        zero = torch.zeros(1, 1, 1, 1, 1, dtype=current.dtype, device=current.device)
        soft_dc = torch.where(mask, current - ref, zero) * self.dc_weight
        reduced = complex_mul(ifft2c(current), complex_conj(sens)).sum(dim=1, keepdim=True)
        model_term = fft2c(complex_mul(self.model(reduced), sens))
        return current - soft_dc - model_term


class VarNet(nn.Module):
    def __init__(self, num_cascades: int = 12, sens_chans: int = 8, sens_pools: int = 4, chans: int = 18, pools: int = 4):
        super().__init__()
        self.sens_net = SensitivityModel(sens_chans, sens_pools)
        self.cascades = nn.ModuleList([VarNetBlock(NormUnet(chans, pools)) for _ in range(num_cascades)])

    def forward(
        self,
        masked_kspace: torch.Tensor,
        mask: torch.Tensor,
        num_low_frequencies: int,
        initial_kspace: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Returns the RSS magnitude image (batch, rows, cols).

        `initial_kspace` (optional) starts the cascades from a better guess
        than the zero-filled data — e.g. cine view sharing, where unsampled
        lines are filled from the time-averaged k-space. The soft data
        consistency still pulls sampled lines to the measurements. Without
        it the network behaves exactly like fastMRI's VarNet."""
        sens = self.sens_net(masked_kspace, num_low_frequencies)
        k = masked_kspace.clone() if initial_kspace is None else initial_kspace.clone()
        for cascade in self.cascades:
            k = cascade(k, masked_kspace, mask, sens)
        return rss_complex(ifft2c(k), dim=1)


# --- checkpoints -------------------------------------------------------------------


def architecture_from_state_dict(state: dict[str, torch.Tensor]) -> dict[str, int]:
    """Recover VarNet(...) arguments from a plain fastMRI-layout state dict."""
    cascades = sorted({int(k.split(".")[1]) for k in state if k.startswith("cascades.") and k.endswith(".dc_weight")})
    if not cascades or "sens_net.norm_unet.unet.down_sample_layers.0.layers.0.weight" not in state:
        raise KeyError("not a fastMRI VarNet state dict (no cascades.N.dc_weight / sens_net.norm_unet keys)")

    def unet_shape(prefix: str) -> tuple[int, int]:
        chans = int(state[f"{prefix}.down_sample_layers.0.layers.0.weight"].shape[0])
        pools = len({k.split(".")[len(prefix.split("."))+1] for k in state if k.startswith(f"{prefix}.down_sample_layers.")})
        return chans, pools

    chans, pools = unet_shape("cascades.0.model.unet")
    sens_chans, sens_pools = unet_shape("sens_net.norm_unet.unet")
    return {"num_cascades": len(cascades), "sens_chans": sens_chans, "sens_pools": sens_pools, "chans": chans, "pools": pools}


def clean_state_dict(state: dict) -> dict[str, torch.Tensor]:
    """Accept the forms fastMRI weights circulate in: a plain state dict, a
    Lightning checkpoint (`state_dict` with a `varnet.` prefix) or
    DataParallel's `module.` prefix; drop the `zero` buffer older fastMRI
    versions registered in each cascade."""
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    out = {}
    for key, value in state.items():
        for prefix in ("module.", "varnet.", "model."):
            if key.startswith(prefix) and not key.startswith("model.unet"):
                key = key[len(prefix) :]
        if key.startswith("cascades.") and key.endswith(".zero"):
            continue
        out[key] = value
    return out


def load_varnet(path: str) -> VarNet:
    """Build a VarNet matching the checkpoint and load it strictly."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise KeyError("checkpoint is not a state dict")
    state = clean_state_dict(state)
    model = VarNet(**architecture_from_state_dict(state))
    model.load_state_dict(state, strict=True)
    return model.eval()


def manifest(model: nn.Module) -> dict[str, list[int]]:
    """Key → shape of every tensor in the state dict (the loading contract)."""
    return {k: list(v.shape) for k, v in model.state_dict().items()}
