"""Window planning: chunking across month and year ends, backfill, same-day resume, the next
day's incremental run with its correction lookback, and gaps."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from dlt_pipelines.aeries.windows import (
    FetchedWindow,
    Window,
    batches,
    chunk_range,
    dates_to_fetch,
    plan_windows,
)


def test_chunks_cover_the_range_exactly_across_month_and_year_ends():
    pieces = chunk_range(date(2024, 12, 20), date(2025, 3, 2), 30)
    assert pieces[0] == (date(2024, 12, 20), date(2025, 1, 18))
    assert pieces[1] == (date(2025, 1, 19), date(2025, 2, 17))
    assert pieces[2] == (date(2025, 2, 18), date(2025, 3, 2))
    days = [a + timedelta(days=i) for a, b in pieces for i in range((b - a).days + 1)]
    assert days == [date(2024, 12, 20) + timedelta(days=i) for i in range(73)]


def test_leap_day_and_single_day_chunks():
    assert chunk_range(date(2024, 2, 28), date(2024, 3, 1), 1) == [
        (date(2024, 2, 28),) * 2, (date(2024, 2, 29),) * 2, (date(2024, 3, 1),) * 2]
    with pytest.raises(ValueError):
        chunk_range(date(2024, 1, 1), date(2024, 1, 2), 0)


def test_backfill_plans_every_school_and_chunk_and_stops_at_the_servers_today():
    windows = plan_windows([102, 101], date(2024, 8, 15), date(2025, 6, 12), today=date(2024, 9, 30),
                           chunk_days=30, lookback_days=7)
    assert windows == [
        Window(date(2024, 8, 15), 101, date(2024, 9, 13)), Window(date(2024, 8, 15), 102, date(2024, 9, 13)),
        Window(date(2024, 9, 14), 101, date(2024, 9, 30)), Window(date(2024, 9, 14), 102, date(2024, 9, 30)),
    ]


def done(windows, as_of):
    return [FetchedWindow(w.school_code, w.start, w.end, as_of) for w in windows]


def test_a_rerun_on_the_same_day_fetches_nothing_already_done():
    today = date(2024, 9, 30)
    plan = plan_windows([101], date(2024, 8, 15), date(2025, 6, 12), today, 10, 7)
    first_half = plan[: len(plan) // 2]
    rest = plan_windows([101], date(2024, 8, 15), date(2025, 6, 12), today, 10, 7, done(first_half, today))
    assert rest[0].start == first_half[-1].end + timedelta(days=1)
    assert rest[-1].end == today
    assert plan_windows([101], date(2024, 8, 15), date(2025, 6, 12), today, 10, 7, done(plan, today)) == []


def test_next_day_fetches_the_new_day_plus_the_lookback():
    yesterday = date(2024, 9, 30)
    fetched = done(plan_windows([101], date(2024, 8, 15), date(2025, 6, 12), yesterday, 30, 7), yesterday)
    plan = plan_windows([101], date(2024, 8, 15), date(2025, 6, 12), yesterday + timedelta(days=1), 30, 7,
                        fetched)
    assert plan == [Window(date(2024, 9, 24), 101, date(2024, 10, 1))]


def test_lookback_is_configurable_and_zero_only_fetches_new_days():
    yesterday = date(2024, 9, 30)
    fetched = done(plan_windows([101], date(2024, 9, 1), date(2024, 9, 30), yesterday, 30, 0), yesterday)
    assert plan_windows([101], date(2024, 9, 1), date(2024, 10, 31), date(2024, 10, 1), 30, 0, fetched) == [
        Window(date(2024, 10, 1), 101, date(2024, 10, 1))]
    assert plan_windows([101], date(2024, 9, 1), date(2024, 10, 31), date(2024, 10, 1), 30, 14, fetched)[0] \
        .start == date(2024, 9, 17)


def test_old_data_fetched_after_its_correction_window_is_settled():
    late = [FetchedWindow(101, date(2024, 8, 15), date(2024, 9, 13), date(2024, 9, 30))]
    assert dates_to_fetch(date(2024, 8, 15), date(2024, 9, 13), date(2024, 12, 1), late, 7) == []
    # fetched three days after the window's end: its last days were still open to corrections
    early = [FetchedWindow(101, date(2024, 8, 15), date(2024, 9, 13), date(2024, 9, 16))]
    assert dates_to_fetch(date(2024, 8, 15), date(2024, 9, 13), date(2024, 12, 1), early, 7) == \
        [date(2024, 9, 10), date(2024, 9, 11), date(2024, 9, 12), date(2024, 9, 13)]


def test_gaps_and_other_schools_are_planned_independently():
    today = date(2024, 10, 15)
    fetched = [FetchedWindow(101, date(2024, 9, 1), date(2024, 9, 30), today),
               FetchedWindow(102, date(2024, 9, 1), date(2024, 9, 10), today)]
    plan = plan_windows([101, 102], date(2024, 9, 1), date(2024, 9, 30), today, 30, 7, fetched)
    assert plan == [Window(date(2024, 9, 11), 102, date(2024, 9, 30))]


def test_batches_keep_order():
    items = list(range(7))
    assert batches(items, 3) == [[0, 1, 2], [3, 4, 5], [6]]


# -- refetch (the sweep) and locked months ---------------------------------------------------

def test_refetch_plans_dates_settled_today_the_same_day():
    today = date(2024, 10, 15)
    full = plan_windows([101], date(2024, 8, 15), date(2025, 6, 12), today, 30, 7)
    fetched = done(full, today)
    assert plan_windows([101], date(2024, 8, 15), date(2025, 6, 12), today, 30, 30, fetched) == []
    again = plan_windows([101], date(2024, 9, 1), date(2024, 9, 30), today, 30, 7, fetched, refetch=True)
    assert [(w.start, w.end) for w in again] == [(date(2024, 9, 1), date(2024, 9, 30))]


def test_windows_split_where_the_month_lock_changes_and_final_dates_are_never_refetched():
    today = date(2024, 12, 2)
    locked = {101: {date(2024, 8, 15) + timedelta(days=i) for i in range(60)}}  # through Oct 13
    plan = plan_windows([101], date(2024, 8, 15), date(2024, 11, 30), today, 30, 7, locked=locked)
    assert all(w.final == (w.end <= date(2024, 10, 13)) for w in plan)
    assert any(w.end == date(2024, 10, 13) for w in plan), "a window ends where the lock ends"
    fetched = [FetchedWindow(w.school_code, w.start, w.end, today, w.final) for w in plan]
    sweep = plan_windows([101], date(2024, 8, 15), date(2024, 11, 30), today, 30, 7, fetched,
                         refetch=True, locked=locked)
    assert sweep and min(w.start for w in sweep) == date(2024, 10, 14)
    assert not any(w.final for w in sweep)


def test_a_locked_month_fetched_before_it_locked_is_fetched_again_by_the_sweep():
    earlier = date(2024, 9, 20)
    fetched = done(plan_windows([101], date(2024, 8, 15), date(2024, 9, 20), earlier, 30, 7), earlier)
    locked = {101: {date(2024, 8, 15) + timedelta(days=i) for i in range(17)}}  # Aug 15-31
    sweep = plan_windows([101], date(2024, 8, 15), date(2024, 9, 20), date(2024, 10, 30), 30, 7, fetched,
                         refetch=True, locked=locked)
    assert sweep[0] == Window(date(2024, 8, 15), 101, date(2024, 8, 31), True)
