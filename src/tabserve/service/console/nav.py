"""The console's navigation bar: one list, so a new view is one line here plus its router."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NavItem:
    key: str  # the ``active`` value a page passes to mark itself current
    label: str
    href: str


NAV: list[NavItem] = [
    NavItem("models", "Models", "/"),
    NavItem("jobs", "Jobs", "/ui/jobs"),
    NavItem("train", "Train", "/ui/train"),
    NavItem("predict", "Predict", "/ui/predict"),
    NavItem("data", "Data", "/ui/data"),
    NavItem("drift", "Drift", "/ui/drift"),
    NavItem("docs", "API docs", "/docs"),
]
