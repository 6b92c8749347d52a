"""Filter expressions and sort orders."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ftui.store import Metrics, Status, scan
from ftui.store.query import QueryError, parse_query, sort_versions


@pytest.fixture
def versions(root: Path):
    new, old = scan(root)
    return [
        replace(new, tags=("best",), metrics=Metrics(final_train_loss=0.8, final_eval_loss=0.85)),
        replace(old, status=Status.FAILED, notes="LR too high",
                metrics=Metrics(final_train_loss=1.2)),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ["20260102_100000", "20260101_100000"]),
        ("eval_loss<0.9", ["20260102_100000"]),
        ("eval_loss<0.9 r=4", []),
        ("r=4", ["20260101_100000"]),
        ("r>=4 alpha>8", ["20260102_100000"]),
        ("loss>1", ["20260101_100000"]),
        ("base=GPT", ["20260102_100000", "20260101_100000"]),
        ("tag:best", ["20260102_100000"]),
        ("tag:bes", []),
        ("status:failed", ["20260101_100000"]),
        ("status!=failed", ["20260102_100000"]),
        ("lr", ["20260101_100000"]),  # plain text: matches the notes
        ('"too high"', ["20260101_100000"]),
        ("0102", ["20260102_100000"]),
        ("lr<0.001", ["20260102_100000", "20260101_100000"]),
    ],
)
def test_filters(versions, text: str, expected: list[str]) -> None:
    assert [v.id for v in parse_query(text).filter(versions)] == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [("eval_loss<abc", "not a number"), ("colour=red", "unknown field"),
     ('"open', "cannot split"), ("r:4", "use a comparison"), ("tag<3", "takes = or :")],
)  # fmt: skip
def test_bad_filters_give_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message) as info:
        parse_query(text)
    assert "\n" not in str(info.value)


def test_sorts_put_unknown_last(versions) -> None:
    assert [v.id for v in sort_versions(versions, "final_loss")] == [
        "20260102_100000", "20260101_100000"]  # fmt: skip
    assert [v.id for v in sort_versions(versions, "eval_loss", reverse=True)][-1] == (
        "20260101_100000"  # no eval loss: last even when reversed
    )
    assert [v.id for v in sort_versions(versions, "time")][0] == "20260102_100000"
    assert [v.id for v in sort_versions(versions, "name")][0] == "20260101_100000"
    with pytest.raises(QueryError):
        sort_versions(versions, "colour")


@given(st.text(max_size=60))
def test_any_text_parses_or_gives_query_error(text: str) -> None:
    try:
        query = parse_query(text)
    except QueryError as exc:
        assert str(exc)
    else:
        assert query.text == text
