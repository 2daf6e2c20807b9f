"""lrdif.training — LRDif model, degradations, datasets, training and evaluation (torch)."""
