"""bindscape.train: Lightning training, checkpoints, prediction, fine-tuning.

- `load_config(path, overrides)` / `TrainConfig`: the YAML config (pydantic).
- `train(config, resume=False) -> Path`: train and write the run folder.
- `load_checkpoint(path)`: model + resolved config (+ conditions and tracks) from a checkpoint alone.
- `train_cross_species`, `train_multitask`: the other task plug-ins (`bindscape.train.tasks`), all trained by
  the one engine (`bindscape.train.engine.fit`); samplers live in `bindscape.train.samplers`, the
  RC-averaged prediction helper in `bindscape.train.rc`.
- `predict_dataset`, `predict_bed`, `predict_fasta`, `predict_genome`, `write_bedgraph`, `write_bigwig`;
  `write_genome_predictions` (genome tiling streamed to table + tracks), `write_tracks` (the one track writer).
- `run_tune(cfg, budget_cpu_min)`: Optuna search (`bindscape.train.tune`), resumable from its ``study.db``.

Code outside `bindscape.train` imports these names from the package (``from bindscape.train import
train_cross_species``), never from its modules, so the modules can move without touching callers.

Heavy imports (torch, lightning) happen on first use of these names.
"""

from __future__ import annotations

_LAZY = {
    "TrainConfig": "bindscape.train.config",
    "TrainerConfig": "bindscape.train.config",
    "auto_epochs": "bindscape.train.config",
    "load_config": "bindscape.train.config",
    "validate_config": "bindscape.train.config",
    "apply_overrides": "bindscape.train.config",
    "cli_overrides": "bindscape.train.config",
    "parse_set": "bindscape.train.config",
    "fit": "bindscape.train.engine",
    "run_metrics": "bindscape.train.engine",
    "train": "bindscape.train.tasks.binary",
    "load_checkpoint": "bindscape.train.checkpoint",
    "load_multitask_checkpoint": "bindscape.train.checkpoint",
    "save_model": "bindscape.train.checkpoint",
    "CheckpointError": "bindscape.train.checkpoint",
    "export_bundle": "bindscape.train.export",
    "read_bundle": "bindscape.train.bundle",
    "BundleError": "bindscape.train.bundle",
    "train_final": "bindscape.train.ensemble",
    "train_ensemble": "bindscape.train.ensemble",
    "EnsembleModel": "bindscape.train.ensemble_model",
    "EnsembleError": "bindscape.train.ensemble_model",
    "predict_dataset": "bindscape.train.predict",
    "predict_bed": "bindscape.train.predict",
    "predict_fasta": "bindscape.train.predict",
    "predict_genome": "bindscape.train.predict",
    "predict_arrays": "bindscape.train.predict",
    "write_bedgraph": "bindscape.train.predict",
    "write_table": "bindscape.train.predict",
    "write_bigwig": "bindscape.train.predict",
    "write_tracks": "bindscape.train.predict",
    "frame_intervals": "bindscape.train.predict",
    "iter_genome": "bindscape.train.predict",
    "write_genome_predictions": "bindscape.train.predict",
    "apply_finetune": "bindscape.train.finetune",
    "rc_input": "bindscape.train.rc",
    "rc_averaged": "bindscape.train.rc",
    "predict_proba": "bindscape.train.rc",
    "train_cross_species": "bindscape.train.tasks.cross_species",
    "validate_cross_species": "bindscape.train.tasks.cross_species",
    "load_cross_species": "bindscape.train.tasks.cross_species",
    "ADAPT_MODES": "bindscape.train.tasks.cross_species",
    "train_multitask": "bindscape.train.tasks.multitask_bp",
    "can_resume": "bindscape.train.engine",
    "predict_bp": "bindscape.train.tasks.multitask_bp",
    "predict_dataset_bp": "bindscape.train.tasks.multitask_bp",
    "iter_bp": "bindscape.train.tasks.multitask_bp",
    "write_bp_predictions": "bindscape.train.tasks.multitask_bp",
    "bp_intervals": "bindscape.train.tasks.multitask_bp",
    "validate_multitask_config": "bindscape.train.tasks.multitask_bp",
    "load_multitask_config": "bindscape.train.tasks.multitask_bp",
    "torch_dataset": "bindscape.train.data",
    "EpochBatchSampler": "bindscape.train.samplers",
    "BalancedBatchSampler": "bindscape.train.samplers",
    "run_tune": "bindscape.train.tune",
    "TuneConfig": "bindscape.train.tune",
    "TuneResult": "bindscape.train.tune",
    "load_tune_config": "bindscape.train.tune",
    "parse_budget": "bindscape.train.tune",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bindscape.train' has no attribute {name!r}")


__all__ = sorted(_LAZY)
