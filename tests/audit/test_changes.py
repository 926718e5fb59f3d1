"""What changed in an event, field by field: only the fields that differ, values as text."""

from __future__ import annotations

from deshi.audit.changes import Change, changes


def test_only_changed_fields_are_listed_and_the_rest_counted() -> None:
    found = changes(
        {"name": "Refunds", "audit_rate": 0.05, "labels": ["a"], "owner": 3},
        {"name": "Refunds", "audit_rate": 0.1, "labels": ["a", "b"], "stage": "scale"},
    )
    assert found.unchanged == 1
    assert found.fields == (
        Change("audit_rate", "0.05", "0.1"),
        Change("labels", '["a"]', '["a","b"]'),
        Change("owner", "3", None),
        Change("stage", None, "scale"),
    )


def test_a_creation_lists_every_field_and_a_value_that_is_no_object_is_one_change() -> None:
    assert [c.field for c in changes(None, {"b": 1, "a": True}).fields] == ["a", "b"]
    assert changes("x", "y").fields == (Change("", "x", "y"),)
    assert changes({"a": 1}, {"a": True}).fields == (Change("a", "1", "true"),)  # 1 is not True
    assert changes(None, None).fields == ()
