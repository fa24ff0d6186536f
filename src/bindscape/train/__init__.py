"""bindscape.train: Lightning training, checkpoints, prediction, fine-tuning.

- `load_config(path, overrides)` / `TrainConfig`: the YAML config (pydantic).
- `train(config, resume=False) -> Path`: train and write the run folder.
- `load_checkpoint(path)`: model + resolved config from a checkpoint alone.
- `predict_dataset`, `predict_bed`, `predict_fasta`, `predict_genome`, `write_bedgraph`, `write_bigwig`.

Code outside `bindscape.train` imports these names from the package (``from bindscape.train import
train_cross_species``), never from its modules, so the modules can move without touching callers.

Heavy imports (torch, lightning) happen on first use of these names.
"""

from __future__ import annotations

_LAZY = {
    "TrainConfig": "bindscape.train.config",
    "load_config": "bindscape.train.config",
    "validate_config": "bindscape.train.config",
    "train": "bindscape.train.fit",
    "load_checkpoint": "bindscape.train.checkpoint",
    "save_model": "bindscape.train.checkpoint",
    "CheckpointError": "bindscape.train.checkpoint",
    "predict_dataset": "bindscape.train.predict",
    "predict_bed": "bindscape.train.predict",
    "predict_fasta": "bindscape.train.predict",
    "predict_genome": "bindscape.train.predict",
    "predict_arrays": "bindscape.train.predict",
    "write_bedgraph": "bindscape.train.predict",
    "write_bigwig": "bindscape.train.predict",
    "apply_finetune": "bindscape.train.finetune",
    "apply_overrides": "bindscape.train.config",
    "cli_overrides": "bindscape.train.config",
    "parse_set": "bindscape.train.config",
    "run_metrics": "bindscape.train.fit",
    "train_cross_species": "bindscape.train.domain",
    "validate_cross_species": "bindscape.train.domain_config",
    "load_cross_species": "bindscape.train.domain_config",
    "train_multitask": "bindscape.train.multitask",
    "can_resume": "bindscape.train.multitask",
    "load_multitask_checkpoint": "bindscape.train.multitask",
    "predict_bp": "bindscape.train.multitask",
    "predict_dataset_bp": "bindscape.train.multitask",
    "validate_multitask_config": "bindscape.train.multitask_config",
    "load_multitask_config": "bindscape.train.multitask_config",
    "torch_dataset": "bindscape.train.data",
    "EpochBatchSampler": "bindscape.train.data",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bindscape.train' has no attribute {name!r}")


__all__ = sorted(_LAZY)
