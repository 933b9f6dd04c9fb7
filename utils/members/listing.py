"""`python -m utils.members`: the member kinds, one line each (kind, what it is, CPU/GPU, its settings section)."""
from __future__ import annotations

from ..core.member_kinds import kit_kinds


def kind_lines() -> list[str]:
    """One line per registered kind, in name order."""
    kinds = kit_kinds()
    width = max(len(name) for name in kinds)
    return [f"{name:<{width}}  {kind.device}  settings: {kind.section:<16}  {kind.description}" for name, kind in sorted(kinds.items())]


def main(argv: list[str] | None = None) -> int:
    """Print the kinds and how a run names its members."""
    print("\n".join(kind_lines()))
    print("A run's members: members.<name>.kind=KIND (its settings: members.<name>.KEY), members.<name>=null switches one off.")
    return 0
