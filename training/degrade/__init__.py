"""lrdif.training.degrade — physically based UDC and low-light degradation simulation.

    from lrdif.training.degrade import KINDS, make_degradation, MixedDegradation, degrade_images
    deg = make_degradation("udc-toled")        # callable: deg(x (B,3,H,W) in [0,1], generator)
    y = deg(x, torch.Generator().manual_seed(0))

See training/DEGRADATIONS.md for the models, parameter ranges and measured speed.
"""
from .core import (CANONICAL_KINDS, HELD_OUT_KINDS, KINDS, LOWLIGHT_RANGES, POLED_RANGES, TOLED_RANGES, TRAINING_KINDS,
                   VERSION, Degradation, Identity,
                   LowLightDegradation, LowLightRanges, MixedDegradation, UDCDegradation, UDCRanges,
                   make_degradation)
from .images import BLOCK, block_generator, degrade_images, resize_images
from .psf import (POLED_LAYOUT, TOLED_LAYOUT, DisplayLayout, LayoutRanges, PSFBank, compute_psf, get_bank,
                  load_psf, psf_second_moment)

__all__ = [
    "KINDS", "CANONICAL_KINDS", "HELD_OUT_KINDS", "TRAINING_KINDS", "VERSION", "Degradation", "Identity", "UDCRanges",
    "UDCDegradation", "LowLightRanges",
    "LowLightDegradation", "MixedDegradation", "make_degradation", "TOLED_RANGES", "POLED_RANGES",
    "LOWLIGHT_RANGES", "degrade_images", "resize_images", "block_generator", "BLOCK", "DisplayLayout",
    "LayoutRanges", "TOLED_LAYOUT", "POLED_LAYOUT", "PSFBank", "compute_psf", "get_bank", "load_psf",
    "psf_second_moment",
]
