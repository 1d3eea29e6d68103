"""Which attendance to fetch: school/date windows from the requested range, what earlier runs
already hold, and the correction lookback.

A date ``d`` that a completed window fetched on district day ``as_of`` is *settled* when
``as_of`` is today (this run, or a crashed run of the same day, already has it) or when
``as_of - d >= lookback_days`` (the correction window had passed when it was fetched). Every
other date in the range is fetched again. So a first run backfills, a rerun after a crash
fetches only what is missing, and the next day's run fetches the new day plus the last
``lookback_days`` days, whose codes may have been corrected since.

Corrections entered later than the lookback are reached by a *refetch* (``--refetch``, run weekly
as the sweep): every date of the range is fetched again, whatever the state says, except dates
that are *final*: fetched when Aeries already showed their attendance month as locked
(``AttendanceMonthLocked``; a locked month cannot change). Windows are split where the locked
status changes, so a window is either wholly final or not.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True, order=True)
class Window:
    start: date
    school_code: int
    end: date
    final: bool = False  # every date's attendance month was locked when planned

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class FetchedWindow:
    school_code: int
    start: date
    end: date
    as_of: date
    final: bool = False


def chunk_range(start: date, end: date, chunk_days: int) -> list[tuple[date, date]]:
    """Split ``start``..``end`` (inclusive) into consecutive pieces of at most ``chunk_days`` days."""
    if chunk_days < 1:
        raise ValueError("chunk_days must be at least 1")
    pieces = []
    cursor = start
    while cursor <= end:
        last = min(end, cursor + timedelta(days=chunk_days - 1))
        pieces.append((cursor, last))
        cursor = last + timedelta(days=1)
    return pieces


def _runs(days: Iterable[date]) -> list[tuple[date, date]]:
    """Consecutive dates grouped into (first, last) runs."""
    runs: list[list[date]] = []
    for day in sorted(days):
        if runs and day - runs[-1][1] == timedelta(days=1):
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return [(a, b) for a, b in runs]


def dates_to_fetch(start: date, end: date, today: date, fetched: Iterable[FetchedWindow],
                   lookback_days: int, refetch: bool = False) -> list[date]:
    """The dates of ``start``..``end`` that no completed window has settled (see module doc);
    with ``refetch`` every date that is not final."""
    best: dict[date, date] = {}
    final: set[date] = set()
    for window in fetched:
        lo, hi = max(start, window.start), min(end, window.end)
        day = lo
        while day <= hi:
            if best.get(day, date.min) < window.as_of:
                best[day] = window.as_of
            if window.final:
                final.add(day)
            day += timedelta(days=1)
    needed = []
    day = start
    while day <= end:
        as_of = best.get(day)
        if day in final:
            pass
        elif refetch or as_of is None or (as_of < today and (as_of - day).days < lookback_days):
            needed.append(day)
        day += timedelta(days=1)
    return needed


def plan_windows(school_codes: Iterable[int], start: date, end: date, today: date, chunk_days: int,
                 lookback_days: int, fetched: Iterable[FetchedWindow] = (), *, refetch: bool = False,
                 locked: Mapping[int, Collection[date]] | None = None) -> list[Window]:
    """Windows to fetch, ordered by date then school (so a backfill advances through the year).
    ``locked`` holds, per school, the dates whose attendance month Aeries shows as locked."""
    by_school: dict[int, list[FetchedWindow]] = {}
    for window in fetched:
        by_school.setdefault(window.school_code, []).append(window)
    last = min(end, today)
    windows = []
    for school in sorted(set(school_codes)):
        days = dates_to_fetch(start, last, today, by_school.get(school, ()), lookback_days, refetch)
        school_locked = set((locked or {}).get(school, ()))
        for run_start, run_end, is_final in _split_by_lock(_runs(days), school_locked):
            windows += [Window(a, school, b, is_final)
                        for a, b in chunk_range(run_start, run_end, chunk_days)]
    return sorted(windows)


def _split_by_lock(runs: list[tuple[date, date]], locked: set[date]) -> list[tuple[date, date, bool]]:
    """Cut each run where the locked status of its dates changes."""
    pieces: list[tuple[date, date, bool]] = []
    for first, last in runs:
        piece_start, state = first, first in locked
        day = first + timedelta(days=1)
        while day <= last:
            if (day in locked) != state:
                pieces.append((piece_start, day - timedelta(days=1), state))
                piece_start, state = day, day in locked
            day += timedelta(days=1)
        pieces.append((piece_start, last, state))
    return pieces


def batches(windows: list[Window], size: int) -> list[list[Window]]:
    return [windows[i:i + size] for i in range(0, len(windows), size)]
