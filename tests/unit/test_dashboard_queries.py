"""The dashboards' query guard, filters and launcher flags (dlt_pipelines/dashboard), no database."""

from __future__ import annotations

import pytest

from dlt_pipelines.dashboard import cli
from dlt_pipelines.dashboard.data import _check_marts_only
from dlt_pipelines.dashboard.filters import Filters


def test_queries_may_read_the_marts_only():
    _check_marts_only("select * from marts.student_summary as s join marts.school_kpis k on true", ("marts",))
    _check_marts_only("select extract(epoch from now() - max(finished_at)) from marts.data_health_sync_runs",
                      ("marts",))
    for sql in ("select * from raw_aeries.students", "select 1 from marts.x join ops.sync_runs r on true",
                "select * from restricted.restricted_people"):
        with pytest.raises(ValueError, match="read marts only"):
            _check_marts_only(sql, ("marts",))


def test_filters_become_parameterised_clauses():
    f = Filters("2024-2025", (101, 102), (6,), {101: "Cedar Ridge", 102: "Willow Creek"})
    assert f.where() == (" and school_year = %s and school_code = any(%s) and grade_level = any(%s)",
                         ("2024-2025", [101, 102], [6]))
    assert f.where(grade=None, year=None, prefix="s.") == (" and s.school_code = any(%s)", ([101, 102],))
    assert Filters(None, (), (), {}).where() == ("", ())
    assert f.label(101) == "Cedar Ridge (101)" and f.label(999) == "999"


def test_the_launcher_hides_the_deploy_button_and_turns_statistics_off():
    command = cli.command("127.0.0.1", 8501)
    assert "--browser.gatherUsageStats=false" in command and "--client.toolbarMode=viewer" in command
    assert "--server.address=127.0.0.1" in command and "--server.port=8501" in command
    assert cli.url("127.0.0.1", 8501) == "http://localhost:8501"
