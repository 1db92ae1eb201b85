"""URL credentials masked whatever a password holds: parsed, not cut at the first delimiter."""

from __future__ import annotations

import pytest

from tabserve.urls import redact_text, redact_tree, redact_url

# Every secret holds "SECRET", so one check covers the raw and the percent-decoded forms.
HOSTILE_URLS = {
    "slash": "postgresql+psycopg://postgres:Sl/ashSECRET1@127.0.0.1:5432/data",
    "at": "postgresql+psycopg://postgres:p@ssSECRET2@127.0.0.1:5432/data",
    "colon": "mysql+pymysql://root:co:lon:SECRET3@127.0.0.1:5432/data",
    "percent-2F": "postgresql+psycopg://postgres:pct%2FSECRET4@127.0.0.1:5432/data",
    "query-in-password": "postgresql+psycopg://postgres:x?password=SECRET5@127.0.0.1:5432/data",
    "query-password": "postgresql+psycopg://postgres@127.0.0.1:5432/data?password=SECRET6",
    "query-among-others": "mysql+pymysql://root@127.0.0.1:5432/data?charset=utf8&sslpassword=SECRET7",
    "query-token": "https://files.example:443/x.csv?sig=1&access_token=SECRET8",
}


@pytest.mark.parametrize("url", HOSTILE_URLS.values(), ids=HOSTILE_URLS.keys())
def test_no_form_of_password_survives_any_redaction(url):
    for shown in (
        redact_url(url),
        redact_text(f"cannot reach '{url}': connection refused"),
        redact_text(f"data.url={url} (retrying)"),
        str(redact_tree({"sources": [{"url": url}], "note": (url,)})),
    ):
        assert "SECRET" not in shown, shown
        assert "***" in shown and ("127.0.0.1:5432/data" in shown or "files.example:443/x.csv" in shown)


def test_the_user_host_and_harmless_parameters_stay_readable():
    assert (
        redact_url("postgresql+psycopg://postgres:Sl/ash@db:5432/x")
        == "postgresql+psycopg://postgres:***@db:5432/x"
    )
    assert redact_url("mysql+pymysql://root@db/x?charset=utf8&password=pw") == (
        "mysql+pymysql://root@db/x?charset=utf8&password=***"
    )
    assert (
        redact_text("see https://host/a@b and sqlite:////tmp/x.db")
        == "see https://host/a@b and sqlite:////tmp/x.db"
    )
    assert redact_text("s3://KEYONLY@bucket/x") == "s3://***@bucket/x"  # a bare userinfo may be a token
    assert redact_url("not a url") == "<unparseable database URL>"
