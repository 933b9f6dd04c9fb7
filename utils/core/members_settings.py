"""The run's `members` setting resolved: the default members with the given ones laid over (a network named replacing the
default's), each checked by its kind's settings; older spellings (a kind's old section, the backbone's name) mapped onto them."""
from __future__ import annotations

from pydantic import BaseModel, ValidationError

from .member_kinds import default_members, kind_class, kit_kinds
from .settings import NAVEC, ConfigError, MemberSettings, describe_errors

MEMBERS = "members"


def backbone_of(values: dict) -> str:
    """model.backbone in a run's raw settings (a mapping or a ModelConfig), navec when not given."""
    model = values.get("model")
    return (model.get("backbone", NAVEC) if isinstance(model, dict) else getattr(model, "backbone", NAVEC)) or NAVEC


def _as_values(entry: object) -> object:
    return entry.model_dump() if isinstance(entry, MemberSettings) else entry


def _laid_over(given: object) -> dict:
    """The default members with `given` laid over them, entry by entry (a member's keys merged, null switching it off)."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ConfigError(f"{MEMBERS}: expected a mapping of name -> {{kind: ..., weight: ...}} (or null to switch one off), got {given!r}")
    members = default_members()
    for name, entry in given.items():
        entry = _as_values(entry)
        members[name] = {**members[name], **entry} if isinstance(entry, dict) and isinstance(members.get(name), dict) else entry
    return members


def _apply_old_section(values: dict, members: dict, kind: str, section: str) -> None:
    """An older run's section of a kind (e.g. `KIND: {weight: 0.5, C: 1.0}`) laid over the members of that kind: weight 0
    switches them off, another weight is their share of the mean (the others keep theirs relative to each other) and
    brings back a member of the kind switched off."""
    old = _as_values(values.pop(section))
    if not isinstance(old, dict):
        raise ConfigError(f"{section}: expected a mapping of settings (now written as {MEMBERS}.<name>.KEY), got {old!r}")
    old = dict(old)
    share = old.pop("weight", None)
    if share is not None and not (isinstance(share, int | float) and 0 <= share < 1):
        raise ConfigError(f"{section}.weight = {share!r} is out of range; accepted: a number between 0 and 1, below 1 (its share of "
                          f"the mean; 0: off; now written as {MEMBERS}.<name>.weight, relative to the others)")
    names = [name for name, entry in members.items() if isinstance(entry, dict) and entry.get("kind") == kind]
    if not names and not share:
        return  # no member of the kind (switched off): its old keys change nothing, as they did with its weight 0
    names = names or [section]
    others = [name for name, entry in members.items() if isinstance(entry, dict) and name not in names]
    for name in names:  # weight 0: off, its settings kept for a later weight to bring back (as the old section did)
        members[name] = {**(members.get(name) or {"kind": kind}), **old, **({"weight": 0.0} if share == 0 else {})}
    total = sum(float(members[name].get("weight", 1.0)) for name in others)
    if share and total:
        for name in others:
            members[name]["weight"] = (1 - share) * float(members[name].get("weight", 1.0)) / total
        for name in names:
            members[name]["weight"] = share


def _is_network(entry: object) -> bool:
    """Whether a member is of a neural kind (False for a kind refused later, when the member is checked)."""
    try:
        return isinstance(entry, dict) and kind_class(str(entry.get("kind"))).neural
    except ValueError:
        return False


def _named_network_replaces_the_default(members: dict, given: dict) -> None:
    """A run has one network: a neural member the settings name switches off the default's neural members they do not name."""
    networks = [name for name, entry in members.items() if _is_network(entry)]
    if any(name in given for name in networks):
        for name in networks:
            members[name] = members[name] if name in given else None


def _lift_run_settings(name: str, entry: object, values: dict) -> object:
    """A member's keys that its kind declares the run's settings (a network's backbone: model.backbone) moved into `values`;
    the same setting given there with another value is refused."""
    try:
        kind = kind_class(str(entry["kind"])) if isinstance(entry, dict) else None
    except (KeyError, ValueError):
        kind = None  # refused, naming the member, when it is checked
    if kind is None or not kind.run_settings.keys() & entry.keys():
        return entry
    entry = dict(entry)
    for key, setting in kind.run_settings.items():
        if key not in entry:
            continue
        value, (section, field) = entry.pop(key), setting.split(".")
        held = values.get(section) or {}
        if isinstance(held, BaseModel):
            given, held = field in held.model_fields_set, held.model_dump()
        elif isinstance(held, dict):
            given = field in held
        else:
            continue  # a section that is not a mapping: refused when the settings are checked
        if given and held[field] != value:
            raise ConfigError(f"{MEMBERS}.{name}.{key} = {value!r} and {setting} = {held[field]!r} disagree (a run has one "
                              f"{setting}): give it once, as {MEMBERS}.{name}.{key}")
        values[section] = {**held, field: value}
    return entry


def _checked(name: str, entry: dict, values: dict) -> MemberSettings:
    """One member's settings, checked by its kind's settings model; errors name members.<name>.KEY."""
    if not isinstance(entry, dict) or "kind" not in entry:
        raise ConfigError(f"{MEMBERS}.{name}: expected a mapping with a kind (e.g. {{kind: {sorted(kit_kinds())[0]}}}) or null, "
                          f"got {entry!r}; kinds: python -m utils.members")
    try:
        given = entry["kind"]
        kind = kind_class(str(given))
        chosen = given if ":" in str(given) else kind.chosen_kind(values)
        kind = kind_class(chosen)
        return kind.settings.model_validate({**entry, "kind": chosen})
    except ValidationError as error:
        message = describe_errors(error, kind.settings, f"{MEMBERS}.{name}.")
    except ValueError as error:
        message = f"{MEMBERS}.{name}.kind: {error}"
    raise ConfigError(message.replace(MemberSettings.section, f"{MEMBERS}.{name}"))


def resolve_members(values: dict) -> dict:
    """`values` (a run's settings, raw) with its members resolved; ConfigError names the member and the key."""
    values = dict(values)
    members = _laid_over(values.get(MEMBERS))
    _named_network_replaces_the_default(members, values.get(MEMBERS) or {})
    for kind in kit_kinds().values():
        if kind.legacy_section and kind.legacy_section in values:
            _apply_old_section(values, members, kind.kind, kind.legacy_section)
    members = {name: _lift_run_settings(name, _as_values(entry), values) for name, entry in members.items()}
    resolved = {name: None if entry is None else _checked(name, entry, values) for name, entry in members.items()}
    active = {name: entry for name, entry in resolved.items() if entry is not None and entry.weight > 0}
    if not active:
        raise ConfigError(f"{MEMBERS}: every member is switched off; a run needs at least one")
    neural = [name for name, entry in active.items() if kind_class(entry.kind).neural]
    if len(neural) > 1:
        raise ConfigError(f"{MEMBERS}: {neural} are both neural members (trained into model/ by the train settings); a run has at "
                          f"most one: switch one off, e.g. -p {MEMBERS}.{neural[-1]}=null")
    values[MEMBERS] = resolved
    return values
