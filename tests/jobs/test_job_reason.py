"""A failed job tells its readers why, without the cell values a library's message may quote."""

from __future__ import annotations

from sklearn.utils._param_validation import InvalidParameterError

from tabserve.jobs.runner import library_reason


def test_a_library_error_keeps_its_reason_and_loses_quoted_values():
    reason = library_reason(ValueError("could not convert string to float: 'Jane Doe, 12 Elm St'"))
    assert reason.startswith("training failed with ValueError: could not convert string to float")
    assert "Jane" not in reason and "Elm" not in reason
    assert reason.endswith("(the server log has the details)")


def test_parameter_names_and_ranges_stay_readable():
    reason = library_reason(
        InvalidParameterError(
            "The 'C' parameter of LogisticRegression must be a float in the range (0.0, inf). Got -1 instead."
        )
    )
    assert "The 'C' parameter of LogisticRegression must be a float in the range (0.0, inf)" in reason


def test_credentials_in_a_library_message_are_masked_and_long_messages_cut():
    reason = library_reason(RuntimeError("cannot reach postgresql://u:hunter2@db/x " + "x" * 2000))
    assert "hunter2" not in reason
    assert len(reason) < 520
