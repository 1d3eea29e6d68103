"""The dbt documentation site as an analyst sees it: `make docs` then `make docs-serve`, opened
in a real headless Chromium (Debian's package; installed here when missing).

The site is generated against a fresh database (so the docs build needs no loaded data:
descriptions, columns and lineage come from the project, column types from the catalog once
the models are built). The test opens the overview, then the model page of MODEL, and checks
that its description, every documented column and its lineage (the "Depends On" section and
the lineage graph) render. Screenshots go to .local/screenshots/ (git-ignored).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

# The intervention list's mart: the page an analyst opens most.
MODEL = "student_summary"
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / ".local" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _ensure_chromium() -> str:
    """Debian's chromium: installed with apt-get when missing (the machine's browser; a
    browser download by Playwright is not possible here)."""
    if not Path(CHROMIUM).exists():
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            pytest.fail(f"{CHROMIUM} is missing: install Debian's package (apt-get install chromium)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, capture_output=True, timeout=600)
        proc = subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=env,
                              capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0 and Path(CHROMIUM).exists(), proc.stderr[-2000:]
    return CHROMIUM


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _words(text: str, n: int = 8) -> list[str]:
    """The first words of a (markdown) description, as they read on the rendered page."""
    return re.findall(r"[A-Za-z0-9]+", text)[:n]


def _reads(words: list[str], page_text: str) -> bool:
    return " ".join(words) in " ".join(re.findall(r"[A-Za-z0-9]+", page_text))


@pytest.fixture(scope="module")
def docs_site(new_database, tmp_path_factory):
    """`dbt docs generate` and `dbt docs serve` through the project's dbt wrapper (what
    `make docs` and `make docs-serve` run), into a private target folder."""
    target = tmp_path_factory.mktemp("docs_target")
    env = {**os.environ, **new_database(), "DBT_TARGET_PATH": str(target), "DBT_LOG_PATH": str(target),
           # an empty database has no source loaded: document the shape with every source
           "SCHOOLDATA_SOURCES": "aeries,iready,bakalari"}
    env.pop("WAREHOUSE_DSN", None)
    cli = [sys.executable, "-m", "dlt_pipelines", "dbt"]
    gen = subprocess.run([*cli, "docs", "generate"], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=600)
    assert gen.returncode == 0, gen.stdout[-3000:] + gen.stderr[-2000:]
    manifest = json.loads((target / "manifest.json").read_text())

    port = _free_port()
    server = subprocess.Popen([*cli, "docs", "serve", "--port", str(port), "--host", "127.0.0.1",
                               "--no-browser"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/manifest.json", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert server.poll() is None, "dbt docs serve exited"
            assert time.monotonic() < deadline, "dbt docs serve did not answer within 60 s"
            time.sleep(0.3)
        yield url, manifest
    finally:
        # the wrapper and the dbt process it started: their own process group, started above
        os.killpg(server.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.killpg(server.pid, 0)
            except ProcessLookupError:
                break
            server.poll()  # reap the wrapper so the group can disappear
            time.sleep(0.2)
        else:
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    executable = _ensure_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def _page(browser, failed: list[str]):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    # dbt-docs asks for two unrendered icon templates and a favicon that 404; the data files must not
    page.on("response",
            lambda r: failed.append(r.url) if r.status >= 400 and r.url.endswith(".json") else None)
    return page


def test_overview_page_renders(docs_site, browser):
    url, manifest = docs_site
    failed: list[str] = []
    page = _page(browser, failed)
    page.goto(f"{url}/#!/overview")
    page.get_by_role("heading", name="School data warehouse").wait_for(timeout=30_000)
    text = page.inner_text("body")
    for heading in ("What the warehouse holds", "How to read the marts", "Metric definitions"):
        assert heading in text
    sources = sorted({s["source_name"] for s in manifest["sources"].values()})
    for name in sources:  # the left menu lists every source
        assert page.locator(".menu", has_text=name).count() or name in text, name
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "docs_overview.png"))
    assert failed == []
    page.close()


def test_model_page_shows_description_columns_and_lineage(docs_site, browser):
    url, manifest = docs_site
    uid = f"model.school_data.{MODEL}"
    assert uid in manifest["nodes"], f"{MODEL} is not a model of the project"
    node = manifest["nodes"][uid]
    failed: list[str] = []
    page = _page(browser, failed)
    page.goto(f"{url}/#!/model/{uid}")
    page.locator("#description").wait_for(state="attached", timeout=30_000)
    page.get_by_text(MODEL, exact=True).first.wait_for(timeout=30_000)

    section = page.evaluate("id => document.getElementById(id).parentElement.innerText", "description")
    assert _reads(_words(node["description"]), section), section[:500]

    columns = page.evaluate("id => document.getElementById(id).parentElement.innerText", "columns")
    assert node["columns"], f"{MODEL} declares no columns"
    for name, column in node["columns"].items():
        assert name in columns, f"column {name} missing from the page"
        assert _reads(_words(column["description"], 5), columns), f"description of {name} missing"

    parents = sorted({n.split(".")[-1] for n in node["depends_on"]["nodes"]})
    assert parents, f"{MODEL} has no parents: lineage would be empty"
    # "Depends On" has one tab per kind of parent (Models, Seeds, Sources...): read every tab
    section = page.locator(".section-target#depends_on + *").first
    assert section.count(), "no Depends On section"
    shown = ""
    for tab in section.locator("ul.nav-tabs li a").all() or [None]:
        if tab is not None:
            tab.click()
        shown += section.inner_text() + "\n"
    for parent in parents:
        assert parent in shown, f"parent {parent} missing from Depends On: {shown[:300]}"

    # the lineage graph: open it and read the nodes cytoscape drew
    page.locator(".section-target#description").scroll_into_view_if_needed()
    page.locator(".launcher-btn").first.click()
    page.locator(".launcher.on canvas").first.wait_for(state="attached", timeout=30_000)
    page.wait_for_function(
        "() => { const el = document.querySelector('.launcher.on #cy');"
        " return el && el._cyreg && el._cyreg.cy.nodes().length > 0; }", timeout=30_000)
    drawn = page.evaluate(
        "() => document.querySelector('.launcher.on #cy')._cyreg.cy.nodes()"
        ".filter(n => n.visible()).map(n => n.data('name'))")
    assert MODEL in drawn and set(parents) <= set(drawn), drawn
    # the dashboards fed by the model (exposures) are drawn downstream of it
    fed = {e["name"] for e in manifest["exposures"].values() if uid in e["depends_on"]["nodes"]}
    assert fed <= set(drawn), (fed, drawn)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"docs_{MODEL}.png"), full_page=False)
    assert failed == []
    page.close()
