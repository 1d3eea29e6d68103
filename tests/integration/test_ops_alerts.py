"""The Prometheus alert rules (deploy/prometheus/alerts.yml): valid for promtool, and their unit
tests (alerts_test.yml: a failing sync, data stale past 26 h, a growing dead-letter queue, and the
cases that must stay quiet) pass. promtool comes with Debian's prometheus package (.ci/run)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing: .ci/run installs Debian's prometheus package")
        pytest.skip("promtool not installed (apt-get install prometheus)")
    return found


def test_rules_are_valid(promtool):
    result = subprocess.run([promtool, "check", "rules", "alerts.yml"], cwd=RULES, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 rules found" in result.stdout + result.stderr


def test_rules_unit_tests_pass(promtool):
    result = subprocess.run([promtool, "test", "rules", "alerts_test.yml"], cwd=RULES, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_broken_expectation_fails(promtool, tmp_path):
    """The unit tests can fail: the same tests against rules with the stale threshold moved."""
    shutil.copy(RULES / "alerts_test.yml", tmp_path / "alerts_test.yml")
    rules = (RULES / "alerts.yml").read_text().replace("> 26 * 3600", "> 30 * 3600")
    (tmp_path / "alerts.yml").write_text(rules)
    result = subprocess.run([promtool, "test", "rules", "alerts_test.yml"], cwd=tmp_path, capture_output=True,
                            text=True)
    assert result.returncode != 0
