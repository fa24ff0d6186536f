"""bindscape.models: architectures, a registry by name.

Every model maps one-hot DNA ``(N, 4, L)`` to logits ``(N, n_outputs)`` and exposes `embed(x)` (the trunk's
vector), `head`, `min_length` and `input_length_rule`. `get_model(name, length=..., n_outputs=..., **kw)`
builds one; `list_models()` names them; `DEFAULT_MODEL` is what bindscape uses when none is named.
"""

from __future__ import annotations

from bindscape.errors import ConfigError
from bindscape.models.base import BindscapeModel, InputLengthError
from bindscape.models.fast import BindscapeCNN
from bindscape.models.nettime import NetTIME
from bindscape.models.zoo import CNNLSTM, CNNBiGRU, DanQ, DeepSEA, EnformerLite

MODELS: dict[str, type[BindscapeModel]] = {
    "bindscape_cnn": BindscapeCNN,
    "deepsea": DeepSEA,
    "danq": DanQ,
    "cnn_lstm": CNNLSTM,
    "cnn_bigru": CNNBiGRU,
    "enformer_lite": EnformerLite,
    "nettime": NetTIME,
}
DEFAULT_MODEL = "bindscape_cnn"


def list_models() -> list[str]:
    """The registered model names, sorted.

    Returns
    -------
    list of str
        Names `get_model` accepts.
    """
    return sorted(MODELS)


def get_model(name: str | None = None, **kw) -> BindscapeModel:
    """Build a registered model; unknown names and bad arguments are `ConfigError`s.

    Parameters
    ----------
    name : str, optional
        A name from `list_models` (default: `DEFAULT_MODEL`).
    **kw
        The model's constructor arguments (``length``, ``n_outputs``, layer sizes).

    Returns
    -------
    BindscapeModel
        The model, freshly initialised.
    """
    name = name or DEFAULT_MODEL
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of: {', '.join(list_models())}")
    cls = MODELS[name]
    try:
        return cls(**kw)
    except TypeError as exc:
        raise ConfigError(f"model {name!r}: {exc}") from None


__all__ = ["MODELS", "DEFAULT_MODEL", "BindscapeModel", "InputLengthError", "get_model", "list_models"]
