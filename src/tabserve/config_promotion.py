"""The ``promotion:`` section: the gates every alias move must pass, whoever asks.

Its own module so config.py stays the tree of the other sections; validated the same way (unknown
keys are errors, env overrides ``TABSERVE_PROMOTION__<KEY>``). The checks themselves are gates.py.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

METRIC_NAME = r"^[A-Za-z0-9_.-]{1,64}$"


class PromotionSettings(BaseModel):
    """What a version must show before an alias points at it (besides its smoke prediction, which
    no setting turns off and no ``--force`` overrides)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, coerce_numbers_to_str=True)

    max_score_drop: float | None = Field(
        None,
        ge=0,
        description="A promoted version's hold-out score may be at most this far below production's "
        "(0: not below at all); null: no score gate.",
    )
    required_metrics: list[str] = Field(
        default_factory=list,
        description="Metric names a version must record (e.g. accuracy, f1_macro, rmse) to be promoted.",
    )
    min_holdout_rows: int = Field(
        0, ge=0, description="Fewest hold-out rows a version's metrics must come from (0: no minimum)."
    )
    allow_force: bool = Field(
        True,
        description="Whether a token holder may override a refusing gate (`--force`, `?force=true`); "
        "never the smoke prediction.",
    )

    @field_validator("required_metrics")
    @classmethod
    def _metric_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.match(METRIC_NAME, name):
                raise ValueError(f"{name!r} is not a metric name (letters, digits, '_', '.', '-')")
        return list(dict.fromkeys(value))
