"""Fine-tuning from a checkpoint with chosen layers frozen or re-initialised.

AgentBind keeps the convolution and recurrent layers of a pretrained model and re-initialises the dense
ones: ``finetune: {checkpoint: runs/pre/checkpoints/best.ckpt, reinit: [dense, head]}`` for `cnn_lstm`;
add ``freeze: [conv, rnn]`` to keep them fixed. Prefixes match parameter names
(``model.named_parameters()``), e.g. ``conv``, ``rnn``, ``dense``, ``head``, ``stem``, ``blocks.0``.
From a multi-output checkpoint (pretrained on several TFs, `bindscape.data.pooled`), ``output: label_Reb1``
keeps that TF's output of the head instead of a new one.
"""

from __future__ import annotations

from torch import nn

from bindscape.errors import ConfigError


def _match(name: str, prefixes: list[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def apply_finetune(model: nn.Module, *, freeze: list[str] = (), reinit: list[str] = (), seed: int = 0) -> dict:
    """Re-initialise then freeze parameters by name prefix; returns counts. Unknown prefixes are errors.

    Parameters
    ----------
    model
        The model, changed in place.
    freeze
        Parameter-name prefixes whose parameters stop requiring gradients.
    reinit
        Module-name prefixes whose modules get ``reset_parameters()`` (those that have it).
    seed
        Torch seed set before re-initialising.

    Returns
    -------
    dict
        ``reinitialised_modules`` (modules reset) and ``frozen_parameters`` (scalar parameters frozen).
    """
    import torch

    names = [n for n, _ in model.named_parameters()]
    for p in list(freeze) + list(reinit):
        if not any(_match(n, [p]) for n in names):
            tops = sorted({n.split(".")[0] for n in names})
            raise ConfigError(f"finetune: no parameters under {p!r}; this model has: {', '.join(tops)}")
    torch.manual_seed(seed)
    n_reinit = 0
    for mname, mod in model.named_modules():
        if mname and _match(mname, list(reinit)) and hasattr(mod, "reset_parameters"):
            mod.reset_parameters()
            n_reinit += 1
    n_frozen = 0
    for n, p in model.named_parameters():
        if _match(n, list(freeze)):
            p.requires_grad_(False)
            n_frozen += p.numel()
    return {"reinitialised_modules": n_reinit, "frozen_parameters": n_frozen}


def _output_index(output: str | int, config: dict, n: int, where: str) -> int:
    """The head row that ``finetune.output`` names: a label column of the checkpoint's data, or an index."""
    labels = list(config.get("data", {}).get("label_columns") or ["label"])
    if isinstance(output, int):
        if not 0 <= output < n:
            raise ConfigError(f"finetune.output: {output} is out of range; {where} has {n} output(s)")
        return output
    if output not in labels:
        raise ConfigError(f"finetune.output: {output!r} is not an output of {where}",
                          hint=f"use one of: {', '.join(labels)}")
    return labels.index(output)


def keep_output(model: nn.Module, index: int) -> None:
    """Cut a multi-output model's linear ``head`` down to its output `index` (weights kept), in place.

    Parameters
    ----------
    model
        A registry model whose last layer is ``head`` (``nn.Linear``); ``n_outputs`` becomes 1.
    index
        The output to keep.
    """
    import torch

    old = model.head
    head = nn.Linear(old.in_features, 1, bias=old.bias is not None)
    with torch.no_grad():
        head.weight.copy_(old.weight[index : index + 1])
        if old.bias is not None:
            head.bias.copy_(old.bias[index : index + 1])
    model.head = head
    model.n_outputs = 1
    model._hparams["n_outputs"] = 1


def prepare_finetune(cfg, length: int, n_outputs: int):
    """Load the checkpoint named in ``cfg.finetune``, check lengths/outputs, apply freeze/reinit.

    Parameters
    ----------
    cfg
        Training config with a ``finetune`` section (checkpoint, freeze, reinit) and ``trainer.seed``.
    length
        The dataset's window length in bp.
    n_outputs
        The dataset's number of outputs; a different count needs ``head`` in ``finetune.reinit``.

    Returns
    -------
    tuple[torch.nn.Module, dict]
        The model (in train mode) and a summary: ``from`` (the checkpoint) plus `apply_finetune`'s counts.
    """
    from bindscape.train.checkpoint import load_checkpoint

    ft = cfg.finetune
    loaded = load_checkpoint(ft.checkpoint)
    model = loaded.model
    model.check_length(length)
    if model.fixed_length and model.length != length:
        raise ConfigError(f"finetune: the checkpoint's model takes {model.length} bp, the dataset has {length} bp")
    if ft.output is not None:
        keep_output(model, _output_index(ft.output, loaded.config, model.n_outputs, ft.checkpoint))
    if model.n_outputs != n_outputs:
        if "head" not in ft.reinit:
            raise ConfigError(f"finetune: the checkpoint has {model.n_outputs} outputs, the dataset "
                              f"{n_outputs}", hint="add 'head' to finetune.reinit to replace the output layer")
        model.head = nn.Linear(model.head.in_features, n_outputs)
        model.n_outputs = n_outputs
        model._hparams["n_outputs"] = n_outputs
    model.length = length
    model._hparams["length"] = length
    info = apply_finetune(model, freeze=ft.freeze, reinit=ft.reinit, seed=cfg.trainer.seed)
    model.train()
    return model, {"from": str(ft.checkpoint), **info}
