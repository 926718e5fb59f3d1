from __future__ import annotations

import annotated_types

from deshi.learning.cursor import GAP_TTL_SECONDS, MAX_GAPS, IdCursor
from deshi.settings import Settings


def test_ids_skipped_over_become_gaps_until_they_show_up() -> None:
    cursor = IdCursor(high=3)
    cursor.saw([4, 7], now=0.0)
    assert cursor.wanted(now=1.0) == (7, [5, 6])
    cursor.saw([6, 8], now=2.0)  # 6 committed late, 8 is new
    assert cursor.wanted(now=3.0) == (8, [5])


def test_nothing_new_leaves_the_cursor_alone() -> None:
    cursor = IdCursor(high=10, gaps={4: 0.0})
    cursor.saw([], now=1.0)
    assert cursor.wanted(now=1.0) == (10, [4])


def test_gaps_of_rolled_back_inserts_are_given_up_after_their_time() -> None:
    cursor = IdCursor()
    cursor.saw([1, 3], now=100.0)
    cursor.saw([5], now=100.0 + GAP_TTL_SECONDS / 2)
    assert cursor.wanted(now=100.0 + GAP_TTL_SECONDS - 1) == (5, [2, 4])
    assert cursor.wanted(now=100.0 + GAP_TTL_SECONDS) == (5, [4])
    assert cursor.wanted(now=100.0 + 2 * GAP_TTL_SECONDS) == (5, [])


def test_a_jump_in_ids_keeps_only_the_newest_gaps() -> None:
    cursor = IdCursor(high=0)
    top = 10 * MAX_GAPS
    cursor.saw([top], now=0.0)
    above, gaps = cursor.wanted(now=0.0)
    assert above == top
    assert gaps == list(range(top - MAX_GAPS + 1, top))


def test_ids_behind_ten_full_batches_committed_first_are_still_watched() -> None:
    # A batch request writes up to max_batch_items decisions in one transaction; an earlier
    # transaction still in flight must stay a gap however many such batches commit before it.
    field = Settings.model_fields["max_batch_items"]
    largest_batch = next(m.le for m in field.metadata if isinstance(m, annotated_types.Le))
    cursor = IdCursor(high=100)
    in_flight = 101
    committed = range(in_flight + 1, in_flight + 1 + 10 * largest_batch)
    cursor.saw(committed, now=0.0)
    assert cursor.wanted(now=1.0) == (committed[-1], [in_flight])
