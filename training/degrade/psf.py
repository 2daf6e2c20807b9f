"""Point-spread functions of an under-display camera (UDC), from Fraunhofer diffraction.

A UDC looks at the scene through the display panel.  The panel's pixel circuitry is opaque; light
passes only through the periodic openings between the pixels.  The panel sits in front of the lens
pupil, so (Fraunhofer / far-field approximation, the standard UDC image-formation model of Zhou et
al. 2021 and of MPNet's blur module) the incoherent PSF at wavelength lambda is

    PSF_lambda(theta) = | FT[ P(x) * M(x) ] (x / lambda  ->  theta) |^2

with P the circular lens pupil (diameter D) and M the panel's amplitude transmittance (1 in an
opening, 0 on the circuitry).  Angles theta relate to pupil coordinates through theta = lambda * f_x,
so the diffraction pattern scales linearly with the wavelength: the red PSF is wider than the blue.

We sample the pupil on an N x N grid with a pitch dx(lambda) = lambda / (N * dtheta): every
wavelength then lands on the SAME angular grid (spacing dtheta), and the lambda scaling comes
from the physics, not from resampling.  Openings are rendered with exact area coverage (periodic
rectangles are separable per axis), the pupil edge with a one-sample linear ramp.

Each colour channel integrates three wavelengths across its band (equal weights).  The fine PSF
(1536^2 samples of 0.25 mrad = +-192 mrad) is integrated into a 1 mrad "bank grid" (385^2) that is
cached; `kernel_stack` then integrates it into the pixels of a face crop, whose angular pixel size
is crop field of view / crop size (pixel-area integration by exact interval-overlap matrices).
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lrdif.sdk.fileio import atomic_write
import torch

__all__ = [
    "FINE_N", "FINE_MRAD", "BANK_MRAD", "BANK_HALF", "CHANNEL_WAVELENGTHS_NM",
    "DisplayLayout", "LayoutRanges", "TOLED_LAYOUT", "POLED_LAYOUT",
    "compute_psf", "PSFBank", "get_bank", "load_psf", "binning_matrix", "bin_psf", "psf_second_moment",
]

FINE_N = 1536            # pupil / fine-PSF samples per side
FINE_MRAD = 0.25         # fine angular sample spacing (mrad) -> field +-192 mrad
BANK_MRAD = 1.0          # bank-grid spacing (mrad)
BANK_HALF = 192          # bank grid = (2*192+1)^2 samples
# wavelengths (nm) integrated per channel R, G, B (centres ~630 / 550 / 450 nm)
CHANNEL_WAVELENGTHS_NM = ((600.0, 630.0, 660.0), (520.0, 550.0, 580.0), (420.0, 450.0, 480.0))
BANK_VERSION = "psfbank/2"


@dataclass(frozen=True)
class DisplayLayout:
    """One concrete display panel in front of one lens."""
    name: str
    pitch_x_um: float        # pixel pitch along sensor rows (x)
    pitch_y_um: float        # pixel pitch along sensor columns (y)
    open_w: float            # opening width, fraction of pitch_x
    open_h: float            # opening height, fraction of pitch_y
    n_openings: int          # 1, or 2 (second opening offset by half a pitch in x and y: delta layout)
    transpose: bool          # panel turned by 90 degrees relative to the sensor
    aperture_mm: float       # lens entrance-pupil diameter

    @property
    def fill_factor(self) -> float:
        """Geometric open-area fraction = fraction of the light energy the panel lets through."""
        return float(self.n_openings * self.open_w * self.open_h)


@dataclass(frozen=True)
class LayoutRanges:
    """Ranges (uniform) from which a bank of display layouts is drawn."""
    name: str
    pitch_um: tuple[float, float]
    aspect: tuple[float, float]          # pitch_y / pitch_x
    open_w: tuple[float, float]
    open_h: tuple[float, float]
    n_openings: tuple[int, ...]          # choices
    transpose_prob: float
    aperture_mm: tuple[float, float]

    def sample(self, rng: np.random.Generator) -> DisplayLayout:
        px = rng.uniform(*self.pitch_um)
        return DisplayLayout(
            name=self.name,
            pitch_x_um=float(px),
            pitch_y_um=float(px * rng.uniform(*self.aspect)),
            open_w=float(rng.uniform(*self.open_w)),
            open_h=float(rng.uniform(*self.open_h)),
            n_openings=int(rng.choice(self.n_openings)),
            transpose=bool(rng.uniform() < self.transpose_prob),
            aperture_mm=float(rng.uniform(*self.aperture_mm)),
        )


# Transparent OLED (T-OLED): large slit-like openings between pixel columns, ~20-40 % open area;
# the regular slit grating throws long diffraction streaks perpendicular to the slits.
TOLED_LAYOUT = LayoutRanges(
    name="toled", pitch_um=(60.0, 100.0), aspect=(0.9, 1.1), open_w=(0.3, 0.5), open_h=(0.65, 0.9),
    n_openings=(1,), transpose_prob=0.5, aperture_mm=(1.0, 1.5))
# Polyimide OLED (P-OLED): dense pixels, small openings (6-32 % open area) in a square or delta
# arrangement: a wide, roughly isotropic diffraction halo -> strong blur.
POLED_LAYOUT = LayoutRanges(
    name="poled", pitch_um=(40.0, 70.0), aspect=(0.9, 1.1), open_w=(0.25, 0.4), open_h=(0.25, 0.4),
    n_openings=(1, 2), transpose_prob=0.5, aperture_mm=(1.0, 1.5))


def _periodic_coverage(x: np.ndarray, dx: float, period: float, x0: float, width: float) -> np.ndarray:
    """Exact fraction of each sample interval [x - dx/2, x + dx/2] lying inside the periodic
    openings [x0 + k*period, x0 + k*period + width)."""
    def cumulative(t: np.ndarray) -> np.ndarray:
        s = t - x0
        return np.floor(s / period) * width + np.minimum(np.mod(s, period), width)
    return (cumulative(x + dx / 2) - cumulative(x - dx / 2)) / dx


def binning_matrix(n_in: int, d_in: float, c_in: float, n_out: int, d_out: float, c_out: float) -> np.ndarray:
    """(n_out, n_in) matrix integrating samples of width d_in centred at (i - c_in) * d_in into
    bins of width d_out centred at (j - c_out) * d_out (fraction of each input sample's energy)."""
    lo_in = (np.arange(n_in) - c_in - 0.5) * d_in
    lo_out = (np.arange(n_out) - c_out - 0.5) * d_out
    overlap = np.minimum(lo_out[:, None] + d_out, lo_in[None, :] + d_in) - np.maximum(lo_out[:, None], lo_in[None, :])
    return np.clip(overlap, 0.0, None) / d_in


def bin_psf(psf: np.ndarray, d_in: float, d_out: float, half_out: int) -> np.ndarray:
    """Integrate a centred PSF (C, h, w) (centre at h//2, w//2; samples d_in wide) into a
    (C, 2*half_out+1, 2*half_out+1) grid of d_out-wide pixels."""
    c, h, w = psf.shape
    my = binning_matrix(h, d_in, h // 2, 2 * half_out + 1, d_out, half_out)
    mx = binning_matrix(w, d_in, w // 2, 2 * half_out + 1, d_out, half_out)
    return my @ psf.astype(np.float64) @ mx.T   # (y,i) @ (c,i,j) @ (j,x): separable binning


def compute_psf(layout: DisplayLayout) -> np.ndarray:
    """PSF (3, 385, 385) float32 of `layout` on the bank grid (1 mrad pixels, centre 192),
    each channel non-negative and summing to 1."""
    n = FINE_N
    dtheta = FINE_MRAD * 1e-3
    px, py = layout.pitch_x_um * 1e-6, layout.pitch_y_um * 1e-6
    wx, wy = layout.open_w * px, layout.open_h * py
    radius = layout.aperture_mm * 1e-3 / 2
    mb = binning_matrix(n, FINE_MRAD, n // 2, 2 * BANK_HALF + 1, BANK_MRAD, BANK_HALF)
    mb_t = torch.from_numpy(mb.astype(np.float32))
    out = np.zeros((3, 2 * BANK_HALF + 1, 2 * BANK_HALF + 1), np.float64)
    idx = torch.arange(n, dtype=torch.float64) - n // 2
    for ch, lams in enumerate(CHANNEL_WAVELENGTHS_NM):
        acc = torch.zeros(n, n, dtype=torch.float32)
        for lam_nm in lams:
            lam = lam_nm * 1e-9
            dx = lam / (n * dtheta)                      # pupil sampling pitch for this wavelength
            if radius > 0.5 * n * dx * 0.98:
                raise ValueError(f"aperture {layout.aperture_mm} mm does not fit the pupil grid at {lam_nm} nm")
            coords = (idx * dx).numpy()
            cx = _periodic_coverage(coords, dx, px, -wx / 2, wx)
            cy = _periodic_coverage(coords, dx, py, -wy / 2, wy)
            mask = torch.from_numpy(cy[:, None] * cx[None, :]).float()
            if layout.n_openings == 2:
                cx2 = _periodic_coverage(coords, dx, px, px / 2 - wx / 2, wx)
                cy2 = _periodic_coverage(coords, dx, py, py / 2 - wy / 2, wy)
                mask += torch.from_numpy(cy2[:, None] * cx2[None, :]).float()
            c = (idx * (dx / radius)).float()               # pupil coordinates in units of the radius
            rr = torch.sqrt(c[:, None] ** 2 + c[None, :] ** 2)
            pupil = ((1.0 - rr) * (radius / dx) + 0.5).clamp_(0.0, 1.0)
            half = torch.fft.rfft2(pupil * mask).abs().square()          # (n, n//2+1): real input
            full = torch.empty(n, n, dtype=torch.float32)                # -> Hermitian-symmetric |F|^2
            full[:, : n // 2 + 1] = half
            full[:, n // 2 + 1:] = torch.roll(torch.flip(half[:, 1: n - n // 2], dims=(0, 1)), 1, dims=0)
            acc += torch.fft.fftshift(full) / full.double().sum().float()
        fine = acc / len(lams)
        out[ch] = (mb_t @ fine @ mb_t.T).double().numpy()
    if layout.transpose:
        out = out.transpose(0, 2, 1)
    out = np.clip(out, 0.0, None)
    out /= out.sum(axis=(1, 2), keepdims=True)
    return out.astype(np.float32)


def psf_second_moment(psf: np.ndarray) -> np.ndarray:
    """Per-channel radial second moment sum(p * r^2) (in pixels^2) of a centred PSF (C, h, w)."""
    c, h, w = psf.shape
    yy, xx = np.mgrid[0:h, 0:w]
    r2 = (yy - h // 2) ** 2 + (xx - w // 2) ** 2
    p = psf / psf.sum(axis=(1, 2), keepdims=True)
    return (p * r2[None]).sum(axis=(1, 2))


class PSFBank:
    """A bank of PSFs on the 1-mrad bank grid, with their layouts' fill factors."""

    def __init__(self, psfs: np.ndarray, fill: np.ndarray, layouts: list[DisplayLayout] | None = None,
                 name: str = "bank"):
        if psfs.ndim != 4 or psfs.shape[1] != 3:
            raise ValueError(f"PSF bank {name!r}: expected (n, 3, h, w), got {psfs.shape}")
        self.psfs = psfs.astype(np.float32)
        self.fill = np.asarray(fill, np.float32)
        self.layouts = layouts or []
        self.name = name
        self._kernel_cache: dict[tuple, tuple[torch.Tensor, int]] = {}

    def __len__(self) -> int:
        return len(self.psfs)

    def kernel_stack(self, size: int, pixel_mrad: tuple[float, ...]) -> tuple[torch.Tensor, int]:
        """Kernels (n_bank, n_levels, 3, K, K) float32 for crops of `size` px whose pixels subtend
        `pixel_mrad[l]` mrad; K = 2r+1 with r <= size//2 (each kernel renormalised to sum 1)."""
        key = (size, tuple(round(p, 9) for p in pixel_mrad))
        if key not in self._kernel_cache:
            half_in = self.psfs.shape[-1] // 2
            r = max(1, min(int(np.ceil((half_in + 0.5) * BANK_MRAD / min(pixel_mrad) - 0.5)), size // 2))
            ks = np.zeros((len(self), len(pixel_mrad), 3, 2 * r + 1, 2 * r + 1), np.float32)
            for i, psf in enumerate(self.psfs):
                for l, d in enumerate(pixel_mrad):
                    k = bin_psf(psf, BANK_MRAD, d, r)
                    ks[i, l] = k / k.sum(axis=(1, 2), keepdims=True)
            self._kernel_cache[key] = (torch.from_numpy(ks), r)
        return self._kernel_cache[key]


def _cache_dir() -> Path:
    from lrdif.sdk.assets import cache_dir
    return cache_dir() / "degrade"


_BANKS: dict[str, PSFBank] = {}


def get_bank(ranges: LayoutRanges, n: int, seed: int, disk_cache: bool = True, progress: bool = False) -> PSFBank:
    """The bank of `n` PSFs drawn from `ranges` with numpy seed `seed`; memoised in memory and
    (when writable) in the lrdif cache dir as an .npz keyed by a hash of everything it depends on."""
    spec = repr((BANK_VERSION, dataclasses.astuple(ranges), n, seed, FINE_N, FINE_MRAD, BANK_MRAD,
                 BANK_HALF, CHANNEL_WAVELENGTHS_NM))
    key = hashlib.sha256(spec.encode()).hexdigest()[:16]
    if key in _BANKS:
        return _BANKS[key]
    path = _cache_dir() / f"psf_bank_{ranges.name}_{key}.npz"
    rng = np.random.default_rng(seed)
    layouts = [ranges.sample(rng) for _ in range(n)]
    psfs = None
    if disk_cache and path.exists():
        try:
            with np.load(path) as z:
                psfs = z["psfs"]
            if psfs.shape != (n, 3, 2 * BANK_HALF + 1, 2 * BANK_HALF + 1):
                psfs = None
        except Exception:  # corrupt cache: recompute
            psfs = None
    if psfs is None:
        from tqdm.auto import tqdm
        it = tqdm(layouts, desc=f"PSF bank {ranges.name}", disable=not progress, leave=False)
        psfs = np.stack([compute_psf(lay) for lay in it])
        if disk_cache:
            try:
                atomic_write(path, lambda f: np.savez(f, psfs=psfs))
            except OSError:
                pass  # cache is an optimisation only
    bank = PSFBank(psfs, np.array([l.fill_factor for l in layouts]), layouts, name=ranges.name)
    _BANKS[key] = bank
    return bank


def load_psf(path: str | os.PathLike) -> np.ndarray:
    """Load a measured PSF from `.npy` (H, W) or (H, W, 3) (R, G, B); returns (3, h, w) float32 with
    odd h, w, centre at (h//2, w//2), each channel non-negative and summing to 1.

    Raises ValueError naming the file and the problem."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{p}: PSF file not found")
    try:
        a = np.load(p, allow_pickle=False)
    except Exception as e:
        raise ValueError(f"{p}: not a readable .npy array ({e})") from None
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "fiu":
        raise ValueError(f"{p}: PSF must be a numeric array, got {type(a).__name__} {getattr(a, 'dtype', '')}")
    if a.ndim == 2:
        a = np.repeat(a[None], 3, axis=0)
    elif a.ndim == 3 and a.shape[2] == 3:
        a = np.transpose(a, (2, 0, 1))
    else:
        raise ValueError(f"{p}: PSF must have shape (H, W) or (H, W, 3), got {a.shape}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{p}: PSF contains NaN or inf")
    if (a < 0).any():
        raise ValueError(f"{p}: PSF has negative values (subtract the dark frame and clip first)")
    sums = a.sum(axis=(1, 2))
    if (sums <= 0).any():
        raise ValueError(f"{p}: PSF channel(s) {np.flatnonzero(sums <= 0).tolist()} sum to zero")
    _, h, w = a.shape
    a = np.pad(a, ((0, 0), (0, 1 - h % 2), (0, 1 - w % 2)))
    return (a / a.sum(axis=(1, 2), keepdims=True)).astype(np.float32)
