"""Degradation models (batched torch, CPU or GPU): UDC after MPNet's modules, low light after LLDif.

All models map sRGB images (B, 3, H, W) in [0, 1] to degraded sRGB images of the same shape in
[0, 1] (quantised to 8-bit levels, as a camera writes them), drawing per-sample parameters from
the ranges of a frozen dataclass with the caller's `torch.Generator`.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ._color import linear_to_srgb, luminance, quantise_8bit, srgb_to_linear
from .psf import (BANK_MRAD, CHANNEL_WAVELENGTHS_NM, POLED_LAYOUT, TOLED_LAYOUT, LayoutRanges, PSFBank,
                  bin_psf, get_bank, load_psf)

__all__ = [
    "KINDS", "CANONICAL_KINDS", "HELD_OUT_KINDS", "TRAINING_KINDS", "VERSION", "Degradation", "Identity", "UDCRanges",
    "UDCDegradation", "LowLightRanges",
    "LowLightDegradation", "MixedDegradation", "make_degradation", "TOLED_RANGES", "POLED_RANGES",
    "LOWLIGHT_RANGES",
]

KINDS = ("none", "udc-toled", "udc-poled", "lowlight", "udc-random", "lowlight-random", "udc-unseen",
         "lowlight-unseen")
# the canonical test conditions; *-random are training randomisation, *-unseen held-out test sets
CANONICAL_KINDS = KINDS[:4]
HELD_OUT_KINDS = ("udc-unseen", "lowlight-unseen")
TRAINING_KINDS = tuple(k for k in KINDS if k != "none" and k not in HELD_OUT_KINDS)   # degraded views a trainer may use
VERSION = "lrdif.degrade/1"


def _uniform(gen: torch.Generator, n: int, lo_hi: tuple[float, float], device) -> torch.Tensor:
    lo, hi = lo_hi
    return lo + (hi - lo) * torch.rand(n, generator=gen, device=device)


def _log_uniform(gen: torch.Generator, n: int, lo_hi: tuple[float, float], device) -> torch.Tensor:
    lo, hi = lo_hi
    return torch.exp(math.log(lo) + (math.log(hi) - math.log(lo)) * torch.rand(n, generator=gen, device=device))


def _check_input(x: torch.Tensor, who: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{who}: expected a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"{who}: expected (B, 3, H, W), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{who}: expected a float tensor in [0, 1], got {x.dtype}")


class Degradation:
    """Base class: `deg(x, generator) -> y`, x and y (B, 3, H, W) sRGB float in [0, 1]."""
    kind: str = "none"

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        _check_input(x, f"degradation {self.kind!r}")
        if x.shape[0] == 0:
            return x.clone()
        dtype = x.dtype
        return self._apply(x.float(), generator).to(dtype)

    def _apply(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def describe(self) -> dict:
        return {"kind": self.kind}


class Identity(Degradation):
    """kind "none": returns the input (clipped to [0, 1]); draws nothing from the generator."""
    kind = "none"

    def _apply(self, x, gen):
        return x.clamp(0.0, 1.0)


# ----------------------------------------------------------------------------------------------
# UDC (MPNet modules: colour transmittance -> diffraction blur -> sensor noise -> camera gain/ISP)
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class UDCRanges:
    """Parameter ranges of a UDC degradation (all sampled uniformly unless said otherwise).

    layout            display-panel geometry ranges for the PSF bank (see psf.py)
    n_psf, psf_seed   bank size and the numpy seed that draws its layouts (fixed -> reproducible)
    crop_width_m      physical width of the face crop (CropSpec: 1.2 x landmark box, ~0.22 m)
    distance_m        camera-to-face distance; crop field of view = crop_width_m / distance
    n_distance        distances are drawn from this many geometric levels (kernels are cached)
    material_rgb      per-channel transmittance of the panel materials (x fill factor = total T)
    glare             fraction of the light scattered into a uniform veil (display haze / flare)
    electrons_white   photo-electrons collected in the GREEN channel for a white crop pixel behind
                      the panel (log-uniform), i.e. after auto-exposure has lengthened the exposure
                      as far as it can; R and B collect (T_r/T_g) and (T_b/T_g) times that, so the
                      colour gain of the ISP amplifies their noise
    read_noise_e      read noise (electrons, Gaussian)
    brightness        residual brightness after the camera's auto-exposure gain (1 = fully restored)
    wb_correction     fraction (in log space) of the panel's colour cast removed by auto white balance
    """
    layout: LayoutRanges
    n_psf: int = 12
    psf_seed: int = 0
    crop_width_m: float = 0.22
    distance_m: tuple[float, float] = (0.25, 0.5)
    n_distance: int = 4
    material_rgb: tuple[tuple[float, float], tuple[float, float], tuple[float, float]] = (
        (0.85, 1.0), (0.8, 0.95), (0.65, 0.9))
    glare: tuple[float, float] = (0.0, 0.08)
    electrons_white: tuple[float, float] = (1000.0, 10000.0)
    read_noise_e: tuple[float, float] = (1.5, 5.0)
    brightness: tuple[float, float] = (0.75, 1.0)
    wb_correction: tuple[float, float] = (0.5, 0.9)


TOLED_RANGES = UDCRanges(layout=TOLED_LAYOUT, psf_seed=101)
POLED_RANGES = UDCRanges(
    layout=POLED_LAYOUT, psf_seed=202,
    # polyimide substrate is yellow: strong blue absorption (Zhou et al.: P-OLED ~3 % total)
    material_rgb=((0.35, 0.5), (0.25, 0.4), (0.06, 0.15)),
    glare=(0.02, 0.15),
    electrons_white=(300.0, 3000.0),
    brightness=(0.5, 0.85),
    wb_correction=(0.4, 0.8),
)


class UDCDegradation(Degradation):
    """Under-display camera: transmittance -> PSF convolution in linear light -> Poisson-Gaussian
    noise at the attenuated signal -> camera gain (amplifies the noise) -> sRGB, 8 bit."""

    def __init__(self, kind: str, ranges: UDCRanges, psf: np.ndarray | str | Path | None = None,
                 psf_pixel_mrad: float | None = None, progress: bool = False):
        self.kind = kind
        self.ranges = ranges
        self._progress = progress
        self._bank: PSFBank | None = None
        self._measured = None
        self._measured_fill = None
        if psf is not None:
            arr = load_psf(psf) if isinstance(psf, (str, Path)) else np.asarray(psf, np.float32)
            if arr.ndim != 3 or arr.shape[0] != 3:
                raise ValueError(f"measured PSF must be (3, h, w), got {arr.shape}")
            self._measured = (arr / arr.sum(axis=(1, 2), keepdims=True), psf_pixel_mrad)
        self._otf_cache: dict[int, tuple[torch.Tensor, int]] = {}

    # -- PSF handling ------------------------------------------------------------------------------
    @property
    def bank(self) -> PSFBank:
        if self._bank is None:
            r = self.ranges
            self._bank = get_bank(r.layout, r.n_psf, r.psf_seed, progress=self._progress)
        return self._bank

    def pixel_mrad_levels(self, size: int) -> tuple[float, ...]:
        r = self.ranges
        d = np.geomspace(r.distance_m[0], r.distance_m[1], r.n_distance)
        return tuple(float(r.crop_width_m / di * 1e3 / size) for di in d)

    def kernels(self, size: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        """(kernels (n_psf, n_levels, 3, K, K), fill factors (n_psf,), radius r) for crops of `size`."""
        if self._measured is not None:
            psf, pix = self._measured
            fill = float(np.mean(self.bank.fill)) if self._measured_fill is None else self._measured_fill
            if pix is None:  # given at output-pixel scale: use as is (cropped to the image)
                c, h, w = psf.shape
                r = min(max(h, w) // 2, size // 2)
                k = np.zeros((3, 2 * r + 1, 2 * r + 1), np.float32)
                hh, ww = min(h // 2, r), min(w // 2, r)
                k[:, r - hh:r + hh + 1, r - ww:r + ww + 1] = psf[:, h // 2 - hh:h // 2 + hh + 1, w // 2 - ww:w // 2 + ww + 1]
                k /= k.sum(axis=(1, 2), keepdims=True)
                return torch.from_numpy(k)[None, None], torch.tensor([fill]), r
            bank = PSFBank(bin_psf(psf, pix, BANK_MRAD, int(np.ceil(psf.shape[-1] * pix / 2)))[None].astype(np.float32),
                           np.array([fill]), name="measured")
            ks, r = bank.kernel_stack(size, self.pixel_mrad_levels(size))
            return ks, torch.tensor([fill]), r
        ks, r = self.bank.kernel_stack(size, self.pixel_mrad_levels(size))
        return ks, torch.from_numpy(self.bank.fill), r

    def _otfs(self, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        key = (h, w)
        if key not in self._otf_cache:
            ks, fill, r = self.kernels(min(h, w))
            hp, wp = h + 2 * r, w + 2 * r
            k = ks.shape[-1]
            big = torch.zeros(*ks.shape[:3], hp, wp)
            big[..., :k, :k] = ks
            big = torch.roll(big, shifts=(-(k // 2), -(k // 2)), dims=(-2, -1))  # centre -> (0, 0)
            self._otf_cache[key] = (torch.fft.rfft2(big), fill.float(), r)
        return self._otf_cache[key]

    # -- forward -----------------------------------------------------------------------------------
    def _apply(self, x, gen):
        rg = self.ranges
        b, _, h, w = x.shape
        dev = x.device
        otf, fill, r = self._otfs(h, w)
        otf, fill = otf.to(dev), fill.to(dev)
        n_psf, n_lvl = otf.shape[:2]
        # per-sample parameters (fixed draw order)
        i_psf = torch.randint(n_psf, (b,), generator=gen, device=dev)
        i_lvl = torch.randint(n_lvl, (b,), generator=gen, device=dev)
        material = torch.stack([_uniform(gen, b, rg.material_rgb[c], dev) for c in range(3)], 1)  # (B,3)
        glare = _uniform(gen, b, rg.glare, dev)
        q = _log_uniform(gen, b, rg.electrons_white, dev)
        sigma_r = _uniform(gen, b, rg.read_noise_e, dev)
        beta = _uniform(gen, b, rg.brightness, dev)
        kappa = _uniform(gen, b, rg.wb_correction, dev)
        noise = torch.randn(x.shape, generator=gen, device=dev)

        lin = srgb_to_linear(x)
        mode = "reflect" if r < min(h, w) else "replicate"
        pad = F.pad(lin, (r, r, r, r), mode=mode)
        blurred = torch.fft.irfft2(torch.fft.rfft2(pad) * otf[i_psf, i_lvl], s=pad.shape[-2:])
        blurred = blurred[..., r:r + h, r:r + w].clamp_min(0.0)
        g = glare.view(b, 1, 1, 1)
        blurred = (1 - g) * blurred + g * blurred.mean(dim=(2, 3), keepdim=True)        # veiling glare
        trans = (fill[i_psf].view(b, 1) * material).view(b, 3, 1, 1)                       # total T_c
        t_rel = trans / trans[:, 1:2]                                                       # T_c / T_g
        # photo-electrons: the green channel collects q for white (exposure already lengthened by
        # auto-exposure), R and B their transmittance ratio of it; shot (Poisson) + read noise
        electrons = q.view(b, 1, 1, 1) * t_rel * blurred
        electrons = electrons + torch.sqrt(electrons + sigma_r.view(b, 1, 1, 1) ** 2) * noise
        # camera gain: undo the transmittance (amplifying the noise), leaving a residual brightness
        # loss beta and colour cast (T_c / T_g)^(1 - kappa) that AE / AWB did not remove
        gain = beta.view(b, 1, 1, 1) * t_rel ** (1 - kappa.view(b, 1, 1, 1)) / (q.view(b, 1, 1, 1) * t_rel)
        out = (electrons * gain).clamp(0.0, 1.0)
        return quantise_8bit(linear_to_srgb(out))

    def describe(self) -> dict:
        d = {"kind": self.kind, "ranges": _jsonable(dataclasses.asdict(self.ranges))}
        if self._measured is not None:
            d["measured_psf"] = {"pixel_mrad": self._measured[1], "shape": list(self._measured[0].shape)}
        return d


# ----------------------------------------------------------------------------------------------
# Low light (LLDif: exposure, white balance, highlights, shadows) + the sensor's low-signal noise
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LowLightRanges:
    """Parameter ranges of the low-light degradation (uniform unless said otherwise).

    exposure_ev       exposure drop in stops: the sensor collects 2^-EV of the clean photons
    illuminant_k      scene illuminant colour temperature (K, log-uniform; the clean image is
                      taken as white-balanced for 6500 K); channel gains from Planck's law
    wb_correction     fraction (log space) of the illuminant cast removed by auto white balance
    tint              green-magenta shift of the G channel (multiplicative, 1 + tint)
    electrons_white   photo-electrons for a white crop pixel at the clean exposure (log-uniform)
    read_noise_e      read noise (electrons)
    adc_bits          ADC resolution over the clean white level (quantisation before the gain)
    recovery          fraction of the lost stops the camera/user brings back with digital gain
    highlights        Lightroom-like highlights edit: max shift of encoded luminance (<0 = darker)
    shadows           Lightroom-like shadows edit: max shift of encoded luminance (<0 = darker)
    """
    exposure_ev: tuple[float, float] = (1.5, 4.0)
    illuminant_k: tuple[float, float] = (2700.0, 7500.0)
    wb_correction: tuple[float, float] = (0.2, 0.8)
    tint: tuple[float, float] = (-0.05, 0.05)
    electrons_white: tuple[float, float] = (800.0, 8000.0)
    read_noise_e: tuple[float, float] = (1.5, 6.0)
    adc_bits: tuple[int, int] = (9, 12)
    recovery: tuple[float, float] = (0.0, 0.4)
    highlights: tuple[float, float] = (-0.12, 0.0)
    shadows: tuple[float, float] = (-0.12, 0.04)


LOWLIGHT_RANGES = LowLightRanges()
_H_C_OVER_K = 1.438776877e-2  # second radiation constant c2 = h c / k_B  (m K)


def _planck_rgb(temp_k: torch.Tensor) -> torch.Tensor:
    """Relative blackbody radiance per channel (B, 3), averaged over the channel wavelengths."""
    lams = torch.tensor(CHANNEL_WAVELENGTHS_NM, dtype=torch.float64, device=temp_k.device) * 1e-9  # (3,3)
    t = temp_k.double().view(-1, 1, 1)
    rad = lams ** -5 / torch.expm1(_H_C_OVER_K / (lams * t))
    return rad.mean(dim=2)


class LowLightDegradation(Degradation):
    """Underexposed capture: illuminant cast (partly white-balanced) -> exposure drop -> Poisson-
    Gaussian noise at low photon counts + read noise -> ADC quantisation -> partial digital gain
    -> highlights/shadows tone edits -> sRGB, 8 bit."""
    kind = "lowlight"

    def __init__(self, ranges: LowLightRanges = LOWLIGHT_RANGES, kind: str = "lowlight"):
        self.ranges = ranges
        self.kind = kind

    def _apply(self, x, gen):
        rg = self.ranges
        b = x.shape[0]
        dev = x.device
        ev = _uniform(gen, b, rg.exposure_ev, dev)
        temp = _log_uniform(gen, b, rg.illuminant_k, dev)
        kappa = _uniform(gen, b, rg.wb_correction, dev)
        tint = _uniform(gen, b, rg.tint, dev)
        q = _log_uniform(gen, b, rg.electrons_white, dev)
        sigma_r = _uniform(gen, b, rg.read_noise_e, dev)
        bits = torch.randint(rg.adc_bits[0], rg.adc_bits[1] + 1, (b,), generator=gen, device=dev).float()
        rec = _uniform(gen, b, rg.recovery, dev)
        hl = _uniform(gen, b, rg.highlights, dev)
        sh = _uniform(gen, b, rg.shadows, dev)
        noise = torch.randn(x.shape, generator=gen, device=dev)

        v4 = lambda t: t.view(b, 1, 1, 1)  # noqa: E731
        lin = srgb_to_linear(x)
        # white balance: camera balanced for 6500 K, scene lit at `temp`; AWB removes part of it
        ratio = _planck_rgb(temp) / _planck_rgb(torch.full_like(temp, 6500.0))
        ratio = (ratio / ratio[:, 1:2]).float()
        ratio = ratio ** (1 - kappa.view(b, 1))
        ratio[:, 1] *= 1 + tint
        lin = lin * ratio.view(b, 3, 1, 1)
        # exposure drop -> photo-electrons, shot + read noise, ADC quantisation (before any gain)
        electrons = v4(q * torch.exp2(-ev)) * lin
        electrons = electrons + torch.sqrt(electrons + v4(sigma_r) ** 2) * noise
        step = v4(q / torch.exp2(bits))
        electrons = (torch.round(electrons / step) * step).clamp_min(0.0)
        # digital gain bringing back `rec` of the lost stops
        out = (electrons / v4(q) * v4(torch.exp2(ev * rec))).clamp(0.0, 1.0)
        # highlights / shadows on encoded luminance v = Y^(1/2.2) (monotone for |shift| < 4/27)
        y = luminance(out).clamp_min(1e-6)
        v = y ** (1 / 2.2)
        v_new = v + v4(hl) * 6.75 * v * v * (1 - v) + v4(sh) * 6.75 * v * (1 - v) ** 2
        out = (out * (v_new.clamp_min(0.0) / v) ** 2.2).clamp(0.0, 1.0)
        return quantise_8bit(linear_to_srgb(out))

    def describe(self) -> dict:
        return {"kind": self.kind, "ranges": _jsonable(dataclasses.asdict(self.ranges))}


# ----------------------------------------------------------------------------------------------

class MixedDegradation(Degradation):
    """Per-sample random choice of kind with the given weights; same call signature."""
    kind = "mixed"

    def __init__(self, weights: dict[str, float] | None = None, **overrides_per_kind):
        weights = dict(weights or {"none": 0.25, "udc-toled": 0.25, "udc-poled": 0.25, "lowlight": 0.25})
        bad = [k for k in weights if k not in KINDS]
        if bad:
            raise ValueError(f"MixedDegradation: unknown kind(s) {bad}; valid kinds: {', '.join(KINDS)}")
        if any(v < 0 for v in weights.values()) or sum(weights.values()) <= 0:
            raise ValueError(f"MixedDegradation: weights must be >= 0 with a positive sum, got {weights}")
        self.kinds = tuple(k for k in KINDS if weights.get(k, 0) > 0)
        self.weights = torch.tensor([float(weights[k]) for k in self.kinds], dtype=torch.float64)
        self.members = {k: make_degradation(k, **overrides_per_kind.get(k, {})) for k in self.kinds}

    def _apply(self, x, gen):
        b = x.shape[0]
        probs = (self.weights / self.weights.sum()).float().to(x.device)
        choice = torch.multinomial(probs.expand(b, -1), 1, generator=gen).view(b)
        out = torch.empty_like(x)
        for i, k in enumerate(self.kinds):
            idx = torch.nonzero(choice == i).view(-1)
            if idx.numel():
                out[idx] = self.members[k](x[idx], gen)
        return out

    def describe(self) -> dict:
        return {"kind": "mixed", "weights": dict(zip(self.kinds, self.weights.tolist())),
                "members": {k: m.describe() for k, m in self.members.items()}}


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


# Degradation randomisation (issue 12): training samples panel geometry, transmittance, noise,
# colour cast, exposure and low-light parameters over wide ranges ("*-random"), so no single simulator
# setting is learned. The "*-unseen" kinds are held out: their panel geometry (a denser panel than
# any training one: pitch 24-32 um, P-OLED-like openings) and their light (exposure beyond 4 EV,
# sodium/candle illuminants below 2600 K) lie outside every training range, so a model scored on them
# meets a panel / a darkness it never saw (ranges and disjointness are tested). The lens aperture
# cannot be held out: the PSF grid takes apertures up to ~1.6 mm (psf.compute_psf).
RANDOM_LAYOUT = LayoutRanges(
    name="random", pitch_um=(35.0, 105.0), aspect=(0.85, 1.15), open_w=(0.2, 0.55), open_h=(0.2, 0.9),
    n_openings=(1, 2), transpose_prob=0.5, aperture_mm=(0.9, 1.6))
UNSEEN_LAYOUT = LayoutRanges(
    name="unseen", pitch_um=(24.0, 32.0), aspect=(0.95, 1.05), open_w=(0.25, 0.4), open_h=(0.25, 0.4),
    n_openings=(1, 2), transpose_prob=0.5, aperture_mm=(1.0, 1.5))
UDC_RANDOM_RANGES = UDCRanges(
    layout=RANDOM_LAYOUT, n_psf=48, psf_seed=303, distance_m=(0.2, 0.6),
    material_rgb=((0.3, 1.0), (0.2, 0.95), (0.05, 0.9)), glare=(0.0, 0.15),
    electrons_white=(300.0, 10000.0), read_noise_e=(1.0, 6.0), brightness=(0.5, 1.0), wb_correction=(0.3, 0.9))
UDC_UNSEEN_RANGES = UDCRanges(
    layout=UNSEEN_LAYOUT, n_psf=12, psf_seed=404,
    material_rgb=((0.45, 0.6), (0.55, 0.7), (0.3, 0.45)), glare=(0.03, 0.1),
    electrons_white=(500.0, 5000.0), brightness=(0.6, 0.9), wb_correction=(0.4, 0.8))
LOWLIGHT_RANDOM_RANGES = LowLightRanges(
    exposure_ev=(1.0, 4.0), illuminant_k=(2600.0, 9000.0), wb_correction=(0.1, 0.9), tint=(-0.08, 0.08),
    electrons_white=(500.0, 10000.0), read_noise_e=(1.0, 8.0), adc_bits=(8, 12), recovery=(0.0, 0.6),
    highlights=(-0.2, 0.05), shadows=(-0.2, 0.08))
LOWLIGHT_UNSEEN_RANGES = LowLightRanges(exposure_ev=(4.2, 5.0), illuminant_k=(1900.0, 2500.0))

_DEFAULT_RANGES = {"udc-toled": TOLED_RANGES, "udc-poled": POLED_RANGES, "lowlight": LOWLIGHT_RANGES,
                   "udc-random": UDC_RANDOM_RANGES, "lowlight-random": LOWLIGHT_RANDOM_RANGES,
                   "udc-unseen": UDC_UNSEEN_RANGES, "lowlight-unseen": LOWLIGHT_UNSEEN_RANGES}


def make_degradation(kind: str, **overrides) -> Degradation:
    """Build the degradation `kind` (one of KINDS).  `overrides` replace fields of its ranges
    dataclass (UDCRanges / LowLightRanges); UDC kinds also take `psf` (a path to a measured .npy PSF
    or a (3, h, w) array), `psf_pixel_mrad` (its angular pixel size; None = already at the image's
    pixel scale) and `progress` (tqdm while the PSF bank is computed)."""
    if kind not in KINDS:
        raise ValueError(f"unknown degradation kind {kind!r}; valid kinds: {', '.join(KINDS)}")
    if kind == "none":
        if overrides:
            raise ValueError(f"degradation 'none' takes no parameters, got {sorted(overrides)}")
        return Identity()
    extra = {}
    if kind.startswith("udc-"):
        for key in ("psf", "psf_pixel_mrad", "progress"):
            if key in overrides:
                extra[key] = overrides.pop(key)
    base = _DEFAULT_RANGES[kind]
    fields = {f.name for f in dataclasses.fields(base)}
    bad = sorted(set(overrides) - fields)
    if bad:
        raise ValueError(f"degradation {kind!r}: unknown parameter(s) {bad}; valid: {', '.join(sorted(fields))}")
    ranges = dataclasses.replace(base, **overrides)
    if kind.startswith("lowlight"):
        return LowLightDegradation(ranges, kind=kind)
    return UDCDegradation(kind, ranges, **extra)
