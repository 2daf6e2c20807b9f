"""LRDif model: configs/presets, FPEN_S1, PNET_S2, diffusion, UDCformer, export wrapper."""
from .config import PRESETS, LRDifConfig, get_config
from .lrdif import (FPEN_S1, PNET_S2, Denoiser, LRDif, LRDifInference, epr_kl_loss, load_label_embeddings,
                    make_schedule)
from .udcformer import UDCformer
from .profile import count_macs, count_params

__all__ = ["LRDifConfig", "PRESETS", "get_config", "LRDif", "LRDifInference", "FPEN_S1", "PNET_S2",
           "Denoiser", "UDCformer", "epr_kl_loss", "load_label_embeddings", "make_schedule",
           "count_macs", "count_params"]
