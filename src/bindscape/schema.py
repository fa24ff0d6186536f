"""The one config base: a strict pydantic model and the one formatter that turns its errors into one line.

Every YAML-backed config in bindscape (training, cross-species, multitask, recipes, the simulator) is a
`StrictModel`: unknown fields are errors, so a typo such as ``data.val_spilt`` fails before any work
instead of being ignored. `validate_model` validates a mapping and raises a `ConfigError` naming the
source, the dotted field and what is allowed::

    config.yaml: optim.optimizer: 'sgd' is not allowed; choose one of: adam, adamw

Shared by every layer, like `errors` and `_util` (imports nothing else from bindscape).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from bindscape.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """A pydantic model that forbids unknown fields (and allows field names starting with ``model_``)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())


def format_validation_error(exc: ValidationError, source: str, *, hint: str | None = None) -> ConfigError:
    """One `ConfigError` line for the first error in `exc`, prefixed by `source`.

    Parameters
    ----------
    exc
        The pydantic error.
    source
        Where the config came from (a file path, ``"config"``, ``"recipe demo"``); it starts the message.
    hint
        What to do about it, e.g. which document lists the fields.

    Returns
    -------
    ConfigError
        ``"<source>: <dotted.field>: <what is wrong>"``, plus ``(+N more errors)`` when there are more.
        Literal choices list the allowed values; unknown and missing fields say so; messages raised by a
        validator (``ValueError``) are kept as written.
    """
    errors = exc.errors()
    err = errors[0]
    loc = ".".join(repr(p) if isinstance(p, str) and not p.isprintable() else str(p)  # one line even for a
                   for p in err["loc"])  # key holding a newline
    typ = err["type"]
    ctx = err.get("ctx") or {}
    if typ == "literal_error":
        allowed = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        msg = f"{err['input']!r} is not allowed; choose one of: {allowed}"
    elif typ == "extra_forbidden":
        msg = "unknown field"
    elif typ == "missing":
        msg = "required field is missing"
    elif typ == "value_error":
        msg = str(ctx.get("error", err["msg"])).removeprefix("Value error, ")
    else:
        msg = f"{err['msg']} (got {err.get('input')!r})"
    text = f"{source}: {loc + ': ' if loc else ''}{msg}"
    more = len(errors) - 1
    if more:
        text += f" (+{more} more error{'s' if more > 1 else ''})"
    return ConfigError(text, hint=hint)


def validate_model(cls: type[M], data: Any, source: str, *, what: str = "config", hint: str | None = None) -> M:
    """Validate `data` (a mapping) as `cls`; any problem is one `ConfigError` line.

    Parameters
    ----------
    cls
        The `StrictModel` subclass.
    data
        The parsed YAML (must be a mapping).
    source
        Where it came from; starts every message.
    what
        What the mapping is, for the "not a mapping" message (``"training config"``, ``"recipe"``).
    hint
        Passed to `format_validation_error`.

    Returns
    -------
    The validated model.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a {what} is a YAML mapping, got {type(data).__name__}", hint=hint)
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise format_validation_error(exc, source, hint=hint) from None


__all__ = ["StrictModel", "format_validation_error", "validate_model"]
