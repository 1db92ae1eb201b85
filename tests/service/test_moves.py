"""Promote and rollback over HTTP: a gate's refusal is a 409 naming it and its figures, force (query or
body) overrides it with the token, and GET /models/{name}/history pages through every move; the
console's model page lists them."""

from __future__ import annotations

import html
import re

import httpx

from tabserve.service.app import create_app
from tests.support.servers import asgi_exchange
from tests.support.versions import with_worse_version

TOKEN = "s3cret"
AUTH = {"authorization": f"Bearer {TOKEN}"}


def _app(tmp_path, trained_iris, **promotion):
    settings = with_worse_version(trained_iris[0], tmp_path, **promotion)
    settings = settings.model_copy(update={"server": settings.server.model_copy(update={"token": TOKEN})})
    return create_app(settings)


def test_a_gate_refusal_is_a_409_and_force_overrides_it_on_record(tmp_path, trained_iris):
    app = _app(tmp_path, trained_iris, max_score_drop=0.05)

    async def calls(client: httpx.AsyncClient):
        url = "/models/iris/versions/2/promote"
        return {
            "anonymous": await client.post(url, params={"force": "true"}),
            "refused": await client.post(url, headers=AUTH),
            "forced": await client.post(url, headers=AUTH, params={"force": "true"}),
            "back": await client.post("/models/iris/rollback", headers=AUTH, json={"reason": "v2 is worse"}),
            "body": await client.post(
                url, headers=AUTH, json={"force": True, "reason": "the console asked", "actor": "console"}
            ),
            "history": await client.get("/models/iris/history"),
        }

    answers = asgi_exchange(app, "http://127.0.0.1:5000", calls)
    assert answers["anonymous"].status_code == 401  # force needs the token like any promotion
    refused = answers["refused"]
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["gates"] == ["max_score_drop"] and problem["overridable"] is True
    assert "gate max_score_drop: version 2's hold-out score" in problem["detail"]
    assert "below production version 1's" in problem["detail"] and "(allowed: 0.05)" in problem["detail"]
    assert answers["forced"].json() == {"model": "iris", "alias": "production", "version": 2}
    assert answers["back"].json()["version"] == 1
    assert answers["body"].status_code == 200
    moves = answers["history"].json()["moves"]
    summary = [(m["action"], m["from_version"], m["to_version"], m["actor"], m["forced"]) for m in moves]
    assert summary == [
        ("promote", 1, 2, "console", True),
        ("rollback", 2, 1, "http", False),
        ("promote", 1, 2, "http", True),
        ("promote", None, 1, "train", False),
    ]
    assert moves[0]["reason"].startswith("the console asked (forced past gate max_score_drop:")
    assert moves[1]["reason"] == "v2 is worse"
    assert moves[0]["at"].endswith("Z")


def test_a_config_that_forbids_force_refuses_it_and_says_so(tmp_path, trained_iris):
    app = _app(tmp_path, trained_iris, max_score_drop=0.0, allow_force=False)

    async def calls(client: httpx.AsyncClient):
        return await client.post("/models/iris/versions/2/promote?force=1", headers=AUTH)

    answer = asgi_exchange(app, "http://127.0.0.1:5000", calls)
    assert answer.status_code == 409
    assert answer.json()["overridable"] is False
    assert "promotion.allow_force is off" in answer.json()["detail"]


def test_a_bad_move_body_is_a_422_naming_the_key(tmp_path, trained_iris):
    app = _app(tmp_path, trained_iris)
    url = "/models/iris/versions/2/promote"

    async def calls(client: httpx.AsyncClient):
        return [
            await client.post(url, headers=AUTH, json={"forse": True}),
            await client.post(url, headers=AUTH, json={"reason": "x" * 501}),
            await client.post(url, headers=AUTH, json={"actor": "canary"}),
            await client.post(url, headers=AUTH, json=["force"]),
            await client.post(url, headers={**AUTH, "content-type": "text/plain"}, content=b"force"),
            await client.post(url, headers=AUTH, content=b"{force"),
            await client.get("/models/iris/history", params={"limit": 0}),
            await client.get("/models/nobody/history"),
        ]

    answers = asgi_exchange(app, "http://127.0.0.1:5000", calls)
    assert [a.status_code for a in answers] == [422, 422, 422, 422, 415, 400, 422, 404]
    assert answers[0].json()["detail"] == "forse: unknown key"
    assert answers[1].json()["detail"].startswith("reason: String should have at most 500 characters")
    assert answers[2].json()["detail"].startswith("actor: Input should be 'http' or 'console'")
    assert "x" * 50 not in answers[1].text  # the value sent is not repeated


def test_the_history_pages_newest_first_and_the_console_lists_it(tmp_path, trained_iris):
    app = _app(tmp_path, trained_iris)

    async def calls(client: httpx.AsyncClient):
        for _ in range(2):
            await client.post("/models/iris/versions/2/promote", headers=AUTH, json={"reason": "<b>why</b>"})
            await client.post("/models/iris/rollback", headers=AUTH)
        first = (await client.get("/models/iris/history", params={"limit": 2})).json()
        second = (await client.get(first["next"])).json()
        last = (await client.get(second["next"])).json()
        page = (await client.get("/ui/models/iris")).text
        canary = (await client.get("/models/iris/history", params={"alias": "canary"})).json()
        bad = await client.get("/models/iris/history", params={"alias": "a b"})
        return first, second, last, page, canary, bad

    first, second, last, page, canary, bad = asgi_exchange(app, "http://127.0.0.1:5000", calls)
    assert canary == {"model": "iris", "moves": [], "next": None} and bad.status_code == 422
    ids = [m["id"] for m in first["moves"] + second["moves"] + last["moves"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 5
    assert [m["action"] for m in first["moves"]] == ["rollback", "promote"]
    assert last["next"] is None and len(last["moves"]) == 1
    assert "&lt;b&gt;why&lt;/b&gt;" in page and "<b>why</b>" not in page  # escaped
    section = html.unescape(page.split("data-history>")[1].split("</section>")[0])
    assert section.count("<tr data-move=") == 5
    text = re.sub(r"<[^>]+>", "", section)
    assert "rollback: v2 → v1" in text and "promote: \u2013 → v1" in text
    assert 'href="/models/iris/history"' in section
