"""What a POST /models/{name}/score body may say: a configured source, a configured sink, a version.

The server scores only what its config names. A request picks one of
``score.sources`` and one of ``score.sink`` / ``score.sinks`` by their
``name`` (and optionally a model version), never a path, URL, database or
query. Refusals name the field and the configured names, never the value sent.

One scoring job writes to a sink at a time, whatever the model: the lock is
the sink's location, so two jobs never interleave parts and done-markers in
one output (a second POST once the first has ended resumes it, skipping the
partitions it finished).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tabserve.config import ScoreSink, ScoreSource, Settings
from tabserve.errors import NotAcceptedError, NotFoundError
from tabserve.model_configs import training_settings
from tabserve.registry.records import MAX_VERSION

SCORE_KEYS = ("source", "sink", "version")


@dataclass(frozen=True)
class ScoreRequest:
    """The body of POST /models/{name}/score, checked for shape (not yet against a config)."""

    source: str
    sink: str
    version: int | None = None

    def as_overrides(self) -> dict[str, Any]:
        """As the job row records it: the names chosen, never a location."""
        return {"score": {"source": self.source, "sink": self.sink, "version": self.version}}

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, Any]) -> ScoreRequest:
        return cls(**overrides["score"])


def parse_request(body: Any) -> ScoreRequest:
    """The body as a ScoreRequest, or NotAcceptedError naming the first field that is wrong."""
    if not isinstance(body, Mapping):
        raise NotAcceptedError('the body must be a JSON object: {"source": NAME, "sink": NAME}')
    unknown = [str(key) for key in body if key not in SCORE_KEYS]
    if unknown:
        raise NotAcceptedError(
            f"{unknown[0][:40]}: not a field of a scoring request (fields: {', '.join(SCORE_KEYS)}); "
            "sources and sinks are named in the server's config (score.sources, score.sinks)"
        )
    for key in ("source", "sink"):
        if not isinstance(body.get(key), str) or not body[key]:
            raise NotAcceptedError(f"{key}: give the name of a {key} in the server's config (a string)")
    version = body.get("version")
    if isinstance(version, float) and version.is_integer():
        version = int(version)  # JSON Schema counts 2.0 as an integer
    if version is not None and (
        not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= MAX_VERSION
    ):
        raise NotAcceptedError(
            f"version: a model version number (1 to {MAX_VERSION}), or leave it out for production"
        )
    return ScoreRequest(body["source"], body["sink"], version)


def scoring_settings(settings: Settings, model: str) -> Settings:
    """The settings whose score section serves ``model``: its own config file's, else the server's."""
    found = training_settings(settings, model)
    return found if found is not None else settings.model_copy(update={"model": model})


def _pick(kind: str, entries: list[Any], name: str) -> Any:
    named = [entry.name for entry in entries if entry.name is not None]
    for entry in entries:
        if entry.name == name:
            return entry
    listed = ", ".join(named) if named else f"none: name one in score.{kind}s"
    # 404, as for a model or version: the name is well formed, no such configured thing exists (which
    # names exist depends on the model's config, so the OpenAPI schema cannot list them).
    raise NotFoundError(f"{kind}: no {kind} of that name in the server's config (configured: {listed})")


def resolve(settings: Settings, request: ScoreRequest) -> tuple[ScoreSource, ScoreSink]:
    """The configured source and sink the request names."""
    score = settings.score
    source = _pick("source", score.sources, request.source)
    sink = _pick("sink", score.named_sinks(), request.sink)
    return source, sink


def sink_lock(sink: ScoreSink) -> str:
    """The lock key of a sink's location (a model name never holds a colon, so keys never meet)."""
    where = json.dumps([sink.format, sink.path, sink.url, sink.table])
    return f"score:{hashlib.sha256(where.encode()).hexdigest()[:32]}"


def rejects_for(settings: Settings, sink: ScoreSink) -> str | None:
    """``score.rejects`` belongs to ``score.sink``; a sink of ``score.sinks`` keeps its rejects beside it."""
    return settings.score.rejects if sink is settings.score.sink else None
