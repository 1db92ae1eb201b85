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
    # The model's own classes_ when they are codes for ``classes`` (an XGBoost classifier fitted on
    # encoded labels): position i of the model's answers is ``classes[i]``. None: the same labels.
    model_classes: list[str] | None = None
    names: list[str] = field(init=False)
    all_numeric: bool = field(init=False)  # worked out once: the predict path asks on every request

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", [f.name for f in self.features])
        object.__setattr__(self, "all_numeric", all(f.type == "numeric" for f in self.features))

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "features": [asdict(f) for f in self.features],
            "target": self.target,
            "classes": list(self.classes),
            "task": self.task,
        }
        if self.model_classes is not None:
            found["model_classes"] = list(self.model_classes)
        return found

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSchema:
        return cls(
            features=[Feature(**f) for f in data["features"]],
            target=data["target"],
            classes=[str(c) for c in data["classes"]],
            task=str(data.get("task", "classification")),
            model_classes=[str(c) for c in data["model_classes"]] if data.get("model_classes") else None,
        )

    def names_of(self, answers: Any) -> list[str]:
        """The class names for labels the fitted model itself answered (codes or names)."""
        if self.model_classes is None:
            return [str(a) for a in answers]
        names = dict(zip(self.model_classes, self.classes, strict=True))
        return [names[str(a)] for a in answers]

    @property
    def own_classes(self) -> list[str]:
        """The classes the fitted model itself answers, in its column order."""
        return self.model_classes if self.model_classes is not None else self.classes

    @property
    def is_regression(self) -> bool:
        return self.task == "regression"


def schema_changes(old: FeatureSchema, new: FeatureSchema, limit: int = 5) -> list[str]:
    """What a new version would change in what callers send and get back, in words (names only)."""
    changes = []
    old_types = {f.name: f.type for f in old.features}
    new_types = {f.name: f.type for f in new.features}
    gone = [name for name in old_types if name not in new_types]
    added = [name for name in new_types if name not in old_types]
    if gone:
        changes.append("drops column(s) " + ", ".join(gone[:limit]))
    if added:
        changes.append("adds column(s) " + ", ".join(added[:limit]))
    retyped = [name for name in old_types if name in new_types and old_types[name] != new_types[name]]
    if retyped:
        changes.append("changes the type of " + ", ".join(retyped[:limit]))
    if old.target != new.target:
        changes.append(f"predicts '{new.target}' instead of '{old.target}'")
    if list(old.classes) != list(new.classes):
        changes.append(f"answers other classes ({len(new.classes)}, was {len(old.classes)})")
    if old.task != new.task:
        changes.append(f"is a {new.task} model instead of {old.task}")
    return changes
