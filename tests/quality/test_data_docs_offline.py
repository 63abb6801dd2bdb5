"""Data Docs work offline and agree with the gate (issue 15).

One gate run on a copy of the published baseline with one quarantined row: the quarantine-rate
suite then has a warning-level finding and nothing blocking, so the run publishes. Its Data
Docs site (the baseline's pages plus this run's) must load nothing from the network, render
its index from ``file://`` in a Chromium whose network is disabled, list this run's
validations first, and never say "Failed" for the warn-only suite.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from gate_fixtures import YEAR, Baseline, GateRun, kind_rows, run_gate, write_csv

from orchestration.defs.quality.checks import LANDING_CHECKS, MART_CHECKS
from orchestration.lib.data_docs import CDN_ASSETS, OFFLINE_MARKER, VENDOR_DIR, make_offline

pytestmark = pytest.mark.xdist_group("quality")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (.ci/run installs it with apt-get)"
)


@dataclass
class WarnRun:
    run: GateRun
    site: Path


@pytest.fixture(scope="module")
def warn_run(baseline: Baseline, tmp_path_factory, request) -> WarnRun:
    monkeypatch = pytest.MonkeyPatch()
    request.addfinalizer(monkeypatch.undo)
    raw, warehouse = baseline.copy(tmp_path_factory.mktemp("data-docs"))
    # the baseline's site and validation store: the index then holds two runs
    for folder in ("data_docs", "gx"):
        shutil.copytree(baseline.warehouse / folder, warehouse / folder)
    rows = kind_rows("worker_activities", "buji", count=20)
    rows[1][rows[0].index("活动日期")] = f"{YEAR - 2}-05-01"  # 1 of 20 quarantined: 5 % < 10 %
    write_csv(raw / str(YEAR) / "buji" / "worker_activities.csv", rows)
    run = run_gate(monkeypatch, raw, warehouse, ingest=True)
    return WarnRun(run, warehouse / "data_docs")


class _Resources(HTMLParser):
    """Every URL a page refers to: (tag, attribute, url)."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.refs.append((tag, name, value))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


def _css_urls(css: str) -> list[str]:
    return [u for u in re.findall(r"url\(\s*['\"]?([^'\")]+)", css) if not u.startswith("data:")]


def _chromium(url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium with every network request sent to a closed port / unresolvable."""
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--proxy-server=127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=8000",
            *args,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def _quarantine_page(site: Path) -> Path:
    pages = sorted((site / "validations" / "gate_quarantine_rate").rglob("*.html"))
    return pages[-1]  # run times sort: the latest


# ------------------------------------------------------------------------------ fast checks


def test_every_cdn_url_maps_to_a_vendored_file_with_its_licence():
    for url, local in CDN_ASSETS.items():
        path = VENDOR_DIR / Path(local).relative_to("vendor")
        assert path.is_file() and path.stat().st_size > 200, (url, path)
        folder = VENDOR_DIR / path.relative_to(VENDOR_DIR).parts[0]
        assert list(folder.glob("LICENSE*")), f"{folder.name}: no licence file"


def test_rewriting_a_page_is_idempotent_and_leaves_nothing_external(tmp_path):
    site = tmp_path / "site"
    page = site / "validations" / "s" / "run" / "time" / "page.html"
    page.parent.mkdir(parents=True)
    links = "\n".join(
        f'<script src="{u}"></script>'
        if u.endswith("js") or "@" in u.rsplit("/", 1)[-1]
        else f'<link rel="stylesheet" href="{u}">'
        for u in CDN_ASSETS
    )
    page.write_text(
        f'<html><head>{links}<link rel="icon" href="../../../static/images/favicon.ico">'
        "<style>.x{background:url('https://great-expectations-web-assets.s3.us-east-2."
        "amazonaws.com/full_logo_dark.png') 0 0}</style></head><body>"
        '<img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/'
        'logo-long.png?d=1&dataContextId=abc"></body></html>',
        encoding="utf-8",
    )
    (site / "static" / "images").mkdir(parents=True)
    assert make_offline(site) == []
    once = page.read_text(encoding="utf-8")
    assert once.startswith(OFFLINE_MARKER) and "https://" not in once
    assert 'href="../../../../static/images/favicon.ico"' in once
    assert make_offline(site) == []
    assert page.read_text(encoding="utf-8") == once
    assert (site / "static" / "vendor" / "jquery-3.7.1" / "jquery.min.js").is_file()


def test_an_unmet_warning_expectation_renders_a_warning_icon_a_critical_one_a_cross():
    from great_expectations.core import ExpectationValidationResult
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )
    from great_expectations.expectations.registry import get_renderer_impl
    from great_expectations.render import LegacyDiagnosticRendererType

    from orchestration.lib.data_docs import register_warning_status_icons

    register_warning_status_icons()
    register_warning_status_icons()  # idempotent

    def icon(severity: str, success: bool) -> str:
        config = ExpectationConfiguration(
            type="expect_column_values_to_be_between",
            kwargs={"column": "x", "max_value": 0},
            severity=severity,
        )
        result = ExpectationValidationResult(success=success, expectation_config=config)
        impl = get_renderer_impl(
            "expect_column_values_to_be_between", LegacyDiagnosticRendererType.STATUS_ICON
        )
        rendered = impl.renderer(result=result).to_json_dict()
        return json.dumps(rendered["string_template"]["styling"]["params"]["icon"]["classes"])

    assert "fa-exclamation-triangle" in icon("warning", False)
    assert "fa-exclamation-triangle" in icon("info", False)
    assert "fa-times" in icon("critical", False)
    assert "fa-check-circle" in icon("warning", True)


# ------------------------------------------------------------------------------ built site


def test_no_page_of_the_site_loads_anything_from_the_network(warn_run):
    pages = sorted(warn_run.site.rglob("*.html"))
    suites = len(LANDING_CHECKS) + len(MART_CHECKS)
    assert len(pages) >= 1 + suites + 3  # index, the baseline's validations, this run's
    problems = []
    stylesheets: set[Path] = set()
    for page in pages:
        parser = _Resources()
        parser.feed(page.read_text(encoding="utf-8"))
        refs = [(t, a, u) for t, a, u in parser.refs]
        refs += [("style", "url", u) for css in parser.styles for u in _css_urls(css)]
        for tag, attr, url in refs:
            parts = urlsplit(url)
            if url.startswith(("#", "javascript:", "data:")):
                continue
            if parts.scheme or parts.netloc:
                if tag != "a":  # a link the reader may follow is not a load
                    problems.append(f"{page.name}: <{tag} {attr}> {url}")
                continue
            target = (page.parent / unquote(parts.path)).resolve()
            if not target.is_file():
                problems.append(f"{page.name}: <{tag} {attr}> {url} does not exist")
            elif target.suffix == ".css":
                stylesheets.add(target)
    for css in stylesheets:
        for url in _css_urls(css.read_text(encoding="utf-8")):
            if urlsplit(url).scheme or not (css.parent / urlsplit(url).path).resolve().is_file():
                problems.append(f"{css.name}: url({url})")
    assert not problems, "\n".join(sorted(set(problems))[:20])


@needs_chromium
def test_the_index_renders_offline_and_lists_the_latest_validations_first(warn_run, tmp_path):
    proc = _chromium((warn_run.site / "index.html").as_uri(), tmp_path, "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    errors = [line for line in _console(proc.stderr) if "Error" in line or "Uncaught" in line]
    assert not errors, errors
    rows = re.findall(r'<tr class="clickable-row" data-href="(validations/[^"]+)"', proc.stdout)
    # bootstrap-table renders the rows from the page's inline data: no JS, no rows
    assert len(rows) > 3, proc.stdout[-3000:]
    # the baseline's validations (one per suite) and this run's 3, a page of them shown
    shown = len(LANDING_CHECKS) + len(MART_CHECKS) + 3
    assert re.search(rf"Showing 1 to \d+ of {shown} rows", proc.stdout), proc.stdout[-3000:]
    # validations/<suite>/<run name>/<run time>/<batch>.html, newest first
    latest, earlier = rows[:3], rows[3:]
    assert {Path(r).parts[1] for r in latest} == set(LANDING_CHECKS), latest
    assert min(Path(r).parts[3] for r in latest) > max(Path(r).parts[3] for r in earlier)
    assert all((warn_run.site / r).is_file() for r in rows)
    assert "Failed" not in re.sub(r"<script.*?</script>", "", proc.stdout, flags=re.S)

    shot = tmp_path / "index.png"
    _chromium(
        (warn_run.site / "index.html").as_uri(),
        tmp_path,
        f"--screenshot={shot}",
        "--window-size=1400,900",
    )
    assert shot.is_file() and shot.stat().st_size > 10_000


@needs_chromium
def test_a_warn_only_suite_says_succeeded_with_a_warning_never_failed(warn_run, tmp_path):
    run = warn_run.run
    assert run.published, run.summary
    # listed for review: one line per rule in the summary, per street in the decision record
    assert "rows quarantined (listed for review; not blocking): " in run.summary
    review = [f for c in run.decision["checks"] for f in c["findings"] if f["severity"] == "warn"]
    assert ("buji", "worker_activities") in {(f["street"], f["kind"]) for f in review}
    check = next(
        e
        for e in run.result.get_asset_check_evaluations()
        if e.check_name == "gate_quarantine_rate"
    )
    assert check.passed

    page = _quarantine_page(warn_run.site)
    proc = _chromium(page.as_uri(), tmp_path, "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = re.sub(r"<script.*?</script>", "", proc.stdout, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", dom)
    assert re.search(r"Status:\s+Succeeded", text), text[:2000]
    assert "Failed" not in text
    assert "fa-exclamation-triangle text-warning" in dom  # the warning-level row
    assert "fa-times text-danger" not in dom  # no red cross on this page
    stored = json.loads(
        (
            warn_run.site.parent / "gx" / page.relative_to(warn_run.site).with_suffix(".json")
        ).read_text(encoding="utf-8")
    )
    assert stored["success"] is True
    assert [r["success"] for r in stored["results"]].count(False) == 1  # the warning, kept
