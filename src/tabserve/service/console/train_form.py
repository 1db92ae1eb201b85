"""POST /ui/api/models/{name}/train: the training form's fields turned into POST /train overrides.

The form sends text (candidates as YAML or JSON); the server parses and
validates it with the same checks as ``POST /train`` and answers a
problem+json whose ``field`` member names the form field to show it beside.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import yaml
from fastapi import APIRouter, Request, Response

from tabserve.errors import ConfigError, TabserveError
from tabserve.service.deps import Authorized, Served, State
from tabserve.service.http.bodies import check_media, decode_json, media_type, read_request
from tabserve.service.http.errors import PROBLEM_JSON, MalformedBodyError, NotAcceptedError, problem_for

router = APIRouter(include_in_schema=False)

MAX_FORM_BODY = 64 * 1024
FIELDS = ("cv", "scoring", "split_kind", "split_value", "candidates")


class FormError(NotAcceptedError):
    """A form field that cannot become an override; ``field`` says which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _number(text: str, field: str, kind: type) -> Any:
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise FormError(field, f"{field.replace('_', ' ')}: expected {what}") from None


def overrides_from_form(form: dict[str, Any]) -> dict[str, Any]:
    """The POST /train overrides the non-empty form fields ask for (not yet validated against the config)."""
    unknown = [k for k in form if k not in FIELDS]
    if unknown:
        raise FormError("form", f"unknown form field(s): {', '.join(repr(k)[:40] for k in unknown[:5])}")
    text = {k: form.get(k) for k in FIELDS}
    for key, value in text.items():
        if value is not None and not isinstance(value, str):
            raise FormError("form", f"{key}: expected text")
    overrides: dict[str, Any] = {}
    search: dict[str, Any] = {}
    if (text["cv"] or "").strip():
        search["cv"] = _number(text["cv"].strip(), "cv", int)
    if (text["scoring"] or "").strip():
        search["scoring"] = text["scoring"].strip()
    if search:
        overrides["search"] = search
    kind, value = (text["split_kind"] or "").strip(), (text["split_value"] or "").strip()
    if kind:
        if kind not in ("test_per_class", "test_fraction"):
            raise FormError("split", "split: choose rows per class or a fraction")
        if not value:
            raise FormError("split", "split: give a value for the chosen kind")
        number = _number(value, "split", int if kind == "test_per_class" else float)
        overrides["split"] = {kind: number}  # the config drops the other kind (EXCLUSIVE_KEYS)
    elif value:
        raise FormError("split", "split: choose rows per class or a fraction for this value")
    candidates = (text["candidates"] or "").strip()
    if candidates:
        try:
            parsed = yaml.safe_load(candidates)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            raise FormError("candidates", f"candidates: not valid YAML or JSON{where}") from None
        if not isinstance(parsed, list) or not all(isinstance(c, dict) for c in parsed):
            raise FormError("candidates", "candidates: expected a list of {estimator, grid} entries")
        overrides["candidates"] = parsed
    return overrides


def field_of(message: str) -> str:
    """Which form field a config error is about, from the key path it names."""
    for marker, field in (
        ("search.cv", "cv"),
        ("search.scoring", "scoring"),
        ("scoring", "scoring"),
        ("split", "split"),
        ("candidates", "candidates"),
        ("estimator", "candidates"),
        ("grid", "candidates"),
    ):
        if marker in message:
            return field
    return "form"


def _problem(exc: BaseException, field: str | None) -> Response:
    status, headers, body = problem_for(exc)
    if field is not None:
        body = orjson.dumps({**orjson.loads(body), "field": field})
    return Response(
        body,
        status_code=status,
        headers={k.decode(): v.decode() for k, v in headers},
        media_type=PROBLEM_JSON.decode(),
    )


@router.post("/ui/api/models/{name}/train", dependencies=[Authorized])
async def train_from_form(slot: Served, request: Request, state: State) -> Response:
    """Start a job like POST /models/{name}/train; errors carry the form field they belong to."""
    body = await read_request(request, MAX_FORM_BODY)
    check_media(media_type(request.headers.get("content-type")))
    form = decode_json(body) if body.strip() else {}
    if not isinstance(form, dict):
        raise MalformedBodyError("the body must be a JSON object of form fields")
    try:
        overrides = overrides_from_form(form)
        job = await asyncio.to_thread(state.jobs.start, overrides, slot.name)
    except FormError as exc:
        return _problem(exc, exc.field)
    except ConfigError as exc:
        return _problem(exc, field_of(str(exc)))
    except TabserveError as exc:
        return _problem(exc, "form")
    url = f"/jobs/{job.id}"
    return Response(
        orjson.dumps({"id": job.id, "status": job.status, "url": url, "page": f"/ui/jobs/{job.id}"}),
        status_code=202,
        media_type="application/json",
        headers={"location": url},
    )
