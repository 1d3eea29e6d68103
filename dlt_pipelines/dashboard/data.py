"""Queries for the pages: the marts only, through the analyst login, cached for a short time.

Every query names its tables as ``marts.<model>``; :func:`query` refuses any other schema, so a
page cannot read raw, staging or ops by mistake. Results are cached ``DASHBOARD_CACHE_TTL``
seconds (default 60): a nightly build shows up within a minute, a page switch costs nothing.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pandas as pd
import streamlit as st

from dlt_pipelines.common import warehouse
from dlt_pipelines.common.settings import env

from . import connection

TTL_SECONDS = int(env("DASHBOARD_CACHE_TTL", "60"))
_SCHEMA_REF = re.compile(r"\b(from|join)\s+([a-z_]+)\.", re.IGNORECASE)


def _check_marts_only(sql: str, allowed: tuple[str, ...]) -> None:
    schemas = {m.group(2).lower() for m in _SCHEMA_REF.finditer(sql)}
    stray = schemas - set(allowed)
    if stray:
        raise ValueError(f"dashboard queries read {', '.join(allowed)} only, not {', '.join(sorted(stray))}")


def _fetch(wh: warehouse.Warehouse, sql: str, params: tuple) -> pd.DataFrame:
    conn = warehouse.connect(wh)
    try:
        conn.set_session(readonly=True)
        with conn.cursor() as cur:
            cur.execute(sql, params)
            columns = [c.name for c in cur.description]
            rows = cur.fetchall()
    finally:
        conn.close()
    frame = pd.DataFrame.from_records(rows, columns=columns)
    for column in frame.columns:  # numeric arrives as Decimal: plot and download it as numbers
        values = frame[column].dropna()
        if len(values) and isinstance(values.iloc[0], Decimal):
            frame[column] = pd.to_numeric(frame[column])
    return frame


@st.cache_resource(show_spinner=False)
def _analyst() -> warehouse.Warehouse:
    return connection.analyst()


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def query(sql: str, params: tuple = ()) -> pd.DataFrame:
    """A read-only query on the marts as the analyst login."""
    _check_marts_only(sql, (connection.MARTS,))
    return _fetch(_analyst(), sql, params)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def marts() -> frozenset[str]:
    """The marts this login can read (a mart of an absent source does not exist)."""
    frame = _fetch(_analyst(), "select table_name from information_schema.tables where table_schema = %s"
                   " and has_table_privilege(format('%%I.%%I', table_schema, table_name), 'select')",
                   (connection.MARTS,))
    return frozenset(frame["table_name"]) if len(frame) else frozenset()


def query_restricted(sql: str, params: tuple = ()) -> pd.DataFrame:
    """The names page: as pii_reader, never cached (the rows stay out of the cache)."""
    _check_marts_only(sql, (connection.MARTS, connection.RESTRICTED))
    return _fetch(connection.pii_reader(), sql, params)
