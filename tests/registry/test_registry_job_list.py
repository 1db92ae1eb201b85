"""The registry's job listing and the "did this training promote its version" question the console asks."""

from __future__ import annotations

import time


def test_recent_jobs_newest_first_limited_and_filtered(registry):
    metadata = registry.metadata
    metadata.ensure_schema()
    for i, model in enumerate(["iris", "wine", "iris"]):
        metadata.create_job(f"{i:032x}", model, {})
        metadata.finish_job(f"{i:032x}", model, status="succeeded")
    assert [j.id[-1] for j in metadata.recent_jobs(10)] == ["2", "1", "0"]
    assert [j.id[-1] for j in metadata.recent_jobs(1)] == ["2"]
    assert [j.model for j in metadata.recent_jobs(10, ["iris"])] == ["iris", "iris"]
    assert metadata.recent_jobs(10, []) == []


def test_promoted_since_reads_the_alias_history(registry):
    metadata = registry.metadata
    metadata.ensure_schema()
    fields = {
        "estimator": "e",
        "params": {},
        "metrics": {},
        "cv_results": [],
        "feature_schema": {},
        "data_rows": 1,
        "data_hash": "h",
        "libraries": {},
        "config": {},
        "artifacts": {},
        "sha256": "s",
    }
    first = metadata.add_version("iris", fields)
    second = metadata.add_version("iris", fields)
    before = time.time() - 1
    metadata.set_alias("iris", first)
    assert metadata.promoted_since("iris", first, before)
    assert not metadata.promoted_since("iris", second, before)
    assert not metadata.promoted_since("iris", first, time.time() + 60)


def test_version_summaries_match_the_full_records(registry):
    metadata = registry.metadata
    metadata.ensure_schema()
    fields = {
        "estimator": "e",
        "params": {"C": 1.0},
        "metrics": {"cv_score": 0.9},
        "cv_results": [{"big": "table"}],
        "feature_schema": {},
        "data_rows": 7,
        "data_hash": "h",
        "libraries": {},
        "config": {},
        "artifacts": {},
        "sha256": "s",
    }
    for _ in range(3):
        metadata.add_version("iris", fields)
    metadata.set_alias("iris", 2)
    summaries = metadata.version_summaries("iris")
    records = metadata.list_versions("iris")
    assert [s["version"] for s in summaries] == [1, 2, 3]
    for summary, record in zip(summaries, records, strict=True):
        assert summary == {key: getattr(record, key) for key in summary}
    assert "cv_results" not in summaries[0]
    assert summaries[1]["aliases"] == ["production"]
    assert metadata.version_summaries("wine") == []
