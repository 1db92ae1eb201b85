"""The feature schema a model version records, and the input checks it implies.

Kept free of pandas and scikit-learn so the serving path stays light.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

FeatureType = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class Feature:
    name: str
    type: FeatureType
    categories: list[str] | None = None


@dataclass(frozen=True)
class FeatureSchema:
    """Which columns a model takes, of which kinds, and what it answers: labels or values.

    ``task`` is "classification" (``classes`` are its labels) or "regression"
    (``classes`` is empty); a schema stored before tasks existed reads as classification.
    """

    features: list[Feature]
    target: str
    classes: list[str]
    task: str = "classification"
    names: list[str] = field(init=False)
    all_numeric: bool = field(init=False)  # worked out once: the predict path asks on every request

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", [f.name for f in self.features])
        object.__setattr__(self, "all_numeric", all(f.type == "numeric" for f in self.features))

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": [asdict(f) for f in self.features],
            "target": self.target,
            "classes": list(self.classes),
            "task": self.task,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSchema:
        return cls(
            features=[Feature(**f) for f in data["features"]],
            target=data["target"],
            classes=[str(c) for c in data["classes"]],
            task=str(data.get("task", "classification")),
        )

    @property
    def is_regression(self) -> bool:
        return self.task == "regression"
