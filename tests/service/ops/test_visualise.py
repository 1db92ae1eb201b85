"""The /visualise page's template: user data (model name, estimator, parameters, labels) is escaped."""

from __future__ import annotations

from types import SimpleNamespace

from tabserve.service.ops.visualise import _per_class, _scores, _template


def test_the_page_escapes_every_value_it_shows():
    record = SimpleNamespace(version=3, estimator="<Est>", params={"C": "<1>"}, data_rows=150)
    metrics = {
        "accuracy": 0.96,
        "cv_score": "n/a",
        "per_class": {"<script>": {"precision": 1, "recall": 0.5}},
    }
    page = _template().render(
        model='ir"is<',
        record=record,
        not_ready_reason="",
        scores=_scores(metrics),
        per_class=_per_class(metrics),
    )
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<Est>" not in page and "&lt;Est&gt;" in page and "&lt;1&gt;" in page
    assert "<h1>ir&#34;is&lt;</h1>" in page
    assert "<tr><th>accuracy</th><td>0.9600</td></tr>" in page
    assert "cv_score" not in page  # only numbers are shown
    assert "precision 1.000, recall 0.500" in page
    assert 'src="/models/ir%22is%3C/versions/3/confusion_matrix.png"' in page


def test_the_page_without_a_model_says_why():
    page = _template().render(
        model="iris", record=None, not_ready_reason="<no version>", scores=[], per_class=[]
    )
    assert "No model is served yet" in page and "(&lt;no version&gt;)" in page
    assert "confusion_matrix" not in page
