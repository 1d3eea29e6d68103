"""Which sources a deployment has: a US district Aeries and i-Ready, a Czech school Bakaláři,
a network all three.

One setting decides, ``SCHOOLDATA_SOURCES`` (comma separated: ``aeries,iready,bakalari``).
Without it:

* the sources to *run* (``make nightly``) are those whose connection is configured
  (``AERIES_BASE_URL``, or ``AERIES_EXPORT_URL`` for a district loading Aeries CSV exports;
  ``IREADY_SOURCE_URL``; ``BAKALARI_BASE_URL``; or the same keys in dlt's secrets);
* the sources dbt *builds* are those whose raw tables exist in the warehouse (what was ever
  loaded), so an analyst's ``make transform`` works in every shape; before anything was loaded,
  every source (the docs site shows the whole project).

dbt receives the list as ``SCHOOLDATA_DBT_SOURCES``; the models of an absent source are
disabled (``dbt_project.yml``), not errored.
"""

from __future__ import annotations

from . import warehouse as wh
from .errors import ConfigError
from .settings import env

ALL_SOURCES = ("aeries", "iready", "bakalari")
SETTING = "SCHOOLDATA_SOURCES"
DBT_ENV = "SCHOOLDATA_DBT_SOURCES"

# A source counts as loaded when the raw tables its staging models read all exist.
_RAW_TABLES = {
    "aeries": ("raw_aeries.schools", "raw_aeries.students", "raw_aeries.enrollment", "raw_aeries.calendar",
               "raw_aeries.absence_codes", "raw_aeries.attendance_days", "raw_aeries.attendance_periods",
               "raw_aeries.attendance_history_summary", "ops.aeries_attendance_windows"),
    "iready": ("raw_iready.diagnostic_results",),
    "bakalari": ("raw_bakalari.classes", "raw_bakalari.groups", "raw_bakalari.subjects",
                 "raw_bakalari.teachers", "raw_bakalari.students", "raw_bakalari.enrollments"),
}
# a source is configured by any of its connection settings (Aeries: the API, or its CSV exports)
_CONNECTION = {"aeries": (("AERIES_BASE_URL", "sources.aeries.base_url"), ("AERIES_EXPORT_URL", None)),
               "iready": (("IREADY_SOURCE_URL", "sources.iready.source_url"),),
               "bakalari": (("BAKALARI_BASE_URL", "sources.bakalari.base_url"),)}


def explicit_sources() -> tuple[str, ...] | None:
    """``SCHOOLDATA_SOURCES`` parsed and checked, or None when unset."""
    raw = env(SETTING)
    if raw is None:
        return None
    names = tuple(dict.fromkeys(p.strip().lower() for p in raw.split(",") if p.strip()))
    unknown = [n for n in names if n not in ALL_SOURCES]
    if unknown or not names:
        raise ConfigError(f"SCHOOLDATA_SOURCES={raw!r} names no known source"
                          + (f" ({', '.join(unknown)})" if unknown else "") + ".",
                          f"set it to some of {','.join(ALL_SOURCES)}, "
                          "e.g. SCHOOLDATA_SOURCES=aeries,iready.")
    return tuple(n for n in ALL_SOURCES if n in names)


def _dlt_value(key: str) -> str | None:
    try:
        import dlt

        value = dlt.secrets.get(key) or dlt.config.get(key)
    except Exception:  # no dlt config at all is fine
        return None
    return str(value) if value not in (None, "") else None


def configured_sources() -> tuple[str, ...]:
    """The sources a scheduled run loads (see the module doc)."""
    explicit = explicit_sources()
    if explicit is not None:
        return explicit
    return tuple(name for name, settings in _CONNECTION.items()
                 if any(env(var) or (key and _dlt_value(key)) for var, key in settings))


def aeries_via_exports() -> bool:
    """Aeries is loaded from its CSV exports: an export folder is set and no API URL."""
    return bool(env("AERIES_EXPORT_URL")) and not (env("AERIES_BASE_URL")
                                                   or _dlt_value("sources.aeries.base_url"))


def loaded_sources(warehouse: wh.Warehouse | None = None) -> tuple[str, ...]:
    """The sources whose raw tables all exist in the warehouse."""
    tables = sorted({t for names in _RAW_TABLES.values() for t in names})
    with wh.cursor(warehouse) as cur:
        cur.execute("select name from unnest(%s::text[]) as t(name) where to_regclass(name) is not null",
                    (tables,))
        present = {r[0] for r in cur.fetchall()}
    return tuple(name for name, needed in _RAW_TABLES.items() if all(t in present for t in needed))


def dbt_sources(warehouse: wh.Warehouse | None = None) -> tuple[str, ...]:
    """The sources dbt builds: the explicit setting, else what was ever loaded, else (a warehouse
    where nothing was loaded yet: no shape to detect) every source, so the docs site and `dbt
    parse` show the whole project."""
    explicit = explicit_sources()
    if explicit is not None:
        return explicit
    return loaded_sources(warehouse) or ALL_SOURCES
