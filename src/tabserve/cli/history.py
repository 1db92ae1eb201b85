"""`tabserve models history`: a model's alias moves as a table, or as JSON."""

from __future__ import annotations

import json

from tabserve.registry.records import REMOVE, AliasMove


def print_history(moves: list[AliasMove], model: str, *, as_json: bool = False) -> None:
    """Newest first: when, which alias, from and to which version, who, forced or not, and why."""
    if as_json:
        print(json.dumps([move.to_dict() for move in moves], indent=2))
        return
    if not moves:
        print(f"model {model}: no alias has moved yet")
        return
    from tabserve.timefmt import local_time

    rows = [_cells(move, local_time(move.at)) for move in moves]
    headers = ("when", "alias", "action", "move", "actor", "forced", "reason")
    widths = [max(len(headers[i]), *(len(row[i]) for row in rows)) for i in range(len(headers) - 1)]
    print(_line(headers, widths))
    for row in rows:
        print(_line(row, widths))


def _cells(move: AliasMove, when: str) -> tuple[str, ...]:
    before = "-" if move.previous_version is None else f"v{move.previous_version}"
    after = "(removed)" if move.action == REMOVE else f"v{move.version}"
    forced = "forced" if move.forced else ""
    return (when, move.alias, move.action, f"{before} -> {after}", move.actor, forced, move.reason)


def _line(cells: tuple[str, ...], widths: list[int]) -> str:
    padded = [cell.ljust(width) for cell, width in zip(cells, widths, strict=False)]
    return "  ".join([*padded, cells[-1]]).rstrip()
