"""Which sources a deployment has: the explicit setting, the configured connections."""

from __future__ import annotations

import pytest

from dlt_pipelines.common import deployment
from dlt_pipelines.common.errors import ConfigError


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in ("SCHOOLDATA_SOURCES", "AERIES_BASE_URL", "AERIES_EXPORT_URL", "IREADY_SOURCE_URL",
                 "BAKALARI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .dlt folder with secrets here
    return monkeypatch


def test_the_explicit_setting_wins_and_is_ordered(clean_env):
    clean_env.setenv("SCHOOLDATA_SOURCES", " Bakalari , aeries ")
    clean_env.setenv("IREADY_SOURCE_URL", "/data/iready")
    assert deployment.configured_sources() == ("aeries", "bakalari")


def test_without_the_setting_the_configured_connections_decide(clean_env):
    assert deployment.configured_sources() == ()
    clean_env.setenv("AERIES_BASE_URL", "https://district.example/admin")
    clean_env.setenv("IREADY_SOURCE_URL", "/data/iready")
    assert deployment.configured_sources() == ("aeries", "iready")


def test_an_export_folder_configures_aeries_through_its_csv_path(clean_env):
    clean_env.setenv("AERIES_EXPORT_URL", "sftp://sis@district.example/exports")
    assert deployment.configured_sources() == ("aeries",)
    assert deployment.aeries_via_exports()
    clean_env.setenv("AERIES_BASE_URL", "https://district.example/admin")  # the API wins when both are set
    assert not deployment.aeries_via_exports()


@pytest.mark.parametrize("value", ["aeries,powerschool", ",", "all"])
def test_an_unknown_source_is_one_clear_sentence(clean_env, value):
    clean_env.setenv("SCHOOLDATA_SOURCES", value)
    with pytest.raises(ConfigError, match="SCHOOLDATA_SOURCES") as err:
        deployment.configured_sources()
    assert "aeries,iready,bakalari" in err.value.fix
