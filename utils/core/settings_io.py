"""Settings from a YAML file plus `key=value` overrides, and back to runs/<name>/params.yaml."""
from __future__ import annotations

from pathlib import Path

import yaml

from .files import read_yaml, write_text
from .settings import ConfigError, RunConfig


def merge(base: dict, update: dict) -> dict:
    """`update` laid over `base`, nested mappings merged key by key."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_overrides(overrides: dict | list[str] | None) -> dict:
    """Turn `{"text.demojize": False}` or `["text.demojize=false"]` into a nested mapping (values parsed as YAML)."""
    if not overrides:
        return {}
    if isinstance(overrides, dict):
        pairs = list(overrides.items())
    else:
        pairs = []
        for item in overrides:
            if "=" not in item:
                raise ConfigError(f"override {item!r}: expected key=value, e.g. text.demojize=false")
            key, raw = item.split("=", 1)
            try:
                pairs.append((key.strip(), yaml.safe_load(raw) if raw.strip() else ""))
            except yaml.YAMLError as error:
                problem = str(getattr(error, "problem", None) or error).strip()
                raise ConfigError(f"override {item!r}: the value is not a plain YAML value ({problem}); quote text, "
                                  "e.g. -p 'text.slips_file=\"my slips.csv\"'") from None
    nested: dict = {}
    for key, value in pairs:
        node = nested
        *parents, last = key.split(".")
        for part in parents:
            if not isinstance(node.get(part), dict):
                node[part] = {}  # below a value given earlier (members.x=null, then members.x.kind=...): the later one wins
            node = node[part]
        node[last] = value
    return nested


def load_config(path: str | Path | None = None, overrides: dict | list[str] | None = None) -> RunConfig:
    """Defaults, then the YAML file at `path` (if any), then `overrides`; unknown keys and bad values are refused."""
    values: dict = {}
    if path:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: {'a folder, not a settings file' if path.is_dir() else 'settings file not found'}; "
                              "expected a YAML file of settings")
        loaded = read_yaml(path) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of settings at the top level")
        values = loaded
    try:
        return RunConfig.from_mapping(merge(values, parse_overrides(overrides)))
    except ConfigError as error:
        raise ConfigError(f"{path or 'settings'}: {error}") from None


def config_to_dict(config: RunConfig) -> dict:
    """The settings as a plain nested mapping."""
    return config.model_dump()


def save_config(config: RunConfig, path: str | Path | None = None) -> Path:
    """Write the resolved settings as YAML (default: runs/<name>/params.yaml), atomically."""
    path = Path(path) if path else config.run_dir / "params.yaml"
    return write_text(path, yaml.safe_dump(config_to_dict(config), allow_unicode=True, sort_keys=False))
