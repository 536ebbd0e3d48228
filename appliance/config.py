"""Config: one TOML file, one section per component, typed and validated at start.

Each section is a dataclass that lives beside the component it configures (`appliance/<component>/config.py`);
this module only knows how to check a TOML table against a dataclass. A bad file is refused with one line that
names the file and the key (`ConfigError`), and the daemon exits 78 (EX_CONFIG).
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

EX_CONFIG = 78

T = TypeVar("T")


class ConfigError(Exception):
    """A config that cannot be used. `str()` is the one line for stderr."""

    def __init__(self, source: str, key: str, message: str) -> None:
        super().__init__(f"{source}: {key}: {message}")
        self.source = source
        self.key = key
        self.message = message


REQUIRED = dataclasses.MISSING


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in get_args(tp))
    if origin is not None:
        return str(tp).replace("typing.", "")
    if tp is type(None):
        return "none"
    return getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, source: str, key: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        errors = []
        for arm in get_args(tp):
            if arm is type(None):
                continue
            try:
                return _convert(value, arm, source, key)
            except ConfigError as error:
                errors.append(error)
        raise ConfigError(source, key, f"expected {_type_name(tp)}, got {type(value).__name__} {value!r}")
    if origin is Literal:
        if value in get_args(tp):
            return value
        raise ConfigError(source, key, f"expected one of {_type_name(tp)}, got {value!r}")
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(source, key, f"expected a list, got {type(value).__name__}")
        (item_type,) = get_args(tp)
        return [_convert(v, item_type, source, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(source, key, f"expected a table, got {type(value).__name__}")
        _, value_type = get_args(tp)
        return {k: _convert(v, value_type, source, f"{key}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, dict):
            raise ConfigError(source, key, f"expected a table, got {type(value).__name__}")
        return build_section(tp, value, source, key)
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    else:  # pragma: no cover - a section declared a type this loader does not know
        raise TypeError(f"unsupported config type {tp!r} for {key}")
    raise ConfigError(source, key, f"expected {_type_name(tp)}, got {type(value).__name__} {value!r}")


def build_section(cls: type[T], table: Mapping[str, Any], source: str, prefix: str) -> T:
    """Check `table` against the dataclass `cls`: unknown keys, missing required keys and wrong types fail."""
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for name in table:
        if name not in fields:
            known = ", ".join(sorted(fields)) or "none"
            raise ConfigError(source, f"{prefix}.{name}", f"unknown key (known keys: {known})")
    kwargs: dict[str, Any] = {}
    for name, field in fields.items():
        key = f"{prefix}.{name}"
        if name in table:
            kwargs[name] = _convert(table[name], hints[name], source, key)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(source, key, "required key is missing")
    instance = cls(**kwargs)
    validate = getattr(instance, "validate", None)
    if validate is not None:
        try:
            validate()
        except ValueError as error:
            raise ConfigError(source, f"{prefix}.{error.args[0]}", str(error.args[1])) from None
    return instance


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(str(path), "-", "file not found") from None
    except PermissionError:
        raise ConfigError(str(path), "-", "permission denied") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(str(path), "-", f"not valid TOML: {error}") from None


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge two TOML documents; `override` wins."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def dotted_to_tables(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Turn {"avionics.port": "x"} into {"avionics": {"port": "x"}} (the simulator prints dotted keys)."""
    tables: dict[str, Any] = {}
    for dotted, value in flat.items():
        parts = dotted.split(".")
        node = tables
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return tables


_ = typing  # keep the import for get_type_hints on postponed annotations in section modules
