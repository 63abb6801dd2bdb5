"""Great Expectations Data Docs that work offline and say what the gate decided.

Two things GX 1.24 does not do by itself:

**Offline.** GX's page templates load bootstrap, jquery, bootstrap-table, popper, the
datepicker, Font Awesome, vega and a dark theme from public CDNs, and the navigation bar
loads its logo from GX's S3 bucket (with the data context id in the query string). Without
the network the index lists no validations (its table is built by bootstrap-table from
inline data) and every page is unstyled. GX offers no hook to change those links: its
``custom_data_docs/views`` templates are searched *after* the packaged ones, so a template of
the same name never wins, and ``SiteBuilder`` only ever copies GX's own ``static/``. So
:func:`make_offline` rewrites the generated HTML after every build: each known CDN URL
(:data:`CDN_ASSETS`) becomes a relative link to the copy under ``static/vendor/`` (vendored
from npm in ``orchestration/lib/static/data_docs/``, see its README), the S3 images become
GX's own images under ``static/images/``, and the newsletter footer is dropped. A rewritten
page starts with :data:`OFFLINE_MARKER`, so a page is rewritten once however many builds
follow (the site keeps the pages of every earlier run).

**Warn-level findings are warnings.** A GX suite result is ``success: false`` as soon as any
expectation is unmet, whatever its severity, and its pages then say "Status: Failed" with a
red cross on the row. The gate (``orchestration/lib/gate.py``) fails a suite only on a
*critical* expectation; ``warning``/``info`` ones are listed for review. So the gate stores
its own verdict as the suite result's ``success`` (see ``gate.run_suites``), and
:func:`register_warning_status_icons` gives unmet non-critical expectations a yellow
warning triangle instead of the red cross — through GX's renderer registry (the mechanism
custom expectations use to bring their own renderers), delegating every other case to the
renderer GX registered. Data Docs, the Dagster check and the run summary then agree.

Imported only by the gate, after ``great_expectations`` (never at definition load).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

ASSETS_DIR = Path(__file__).resolve().parent / "static" / "data_docs"
VENDOR_DIR = ASSETS_DIR / "vendor"
#: where the vendored files go in a site, relative to its root
SITE_VENDOR = "static/vendor"
OFFLINE_MARKER = "<!-- gonghui: offline Data Docs (orchestration/lib/data_docs.py) -->"

#: every external URL GX 1.24's templates load → the file under ``static/`` that replaces it
CDN_ASSETS: dict[str, str] = {
    "https://cdn.jsdelivr.net/npm/vega@5": "vendor/vega-5.33.1/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vendor/vega-lite-5.23.0/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vendor/vega-embed-6.29.0/vega-embed.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": (
        "vendor/fontawesome-free-6.6.0/css/all.min.css"
    ),
    "https://code.jquery.com/jquery-3.7.1.min.js": "vendor/jquery-3.7.1/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": (
        "vendor/popper.js-1.12.9/popper.min.js"
    ),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": (
        "vendor/bootstrap-4.3.1/bootstrap.min.js"
    ),
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": (
        "vendor/bootstrap-4.3.1/bootstrap.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": (
        "vendor/bootstrap-table-1.19.1/bootstrap-table.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": (
        "vendor/bootstrap-table-1.19.1/bootstrap-table.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.js": (
        "vendor/bootstrap-table-1.19.1/bootstrap-table-filter-control.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.css": (
        "vendor/bootstrap-table-1.19.1/bootstrap-table-filter-control.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.css": (
        "vendor/bootstrap-table-1.19.1/bootstrap-table-filter-control.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/"
    "bootstrap-datepicker.min.js": "vendor/bootstrap-datepicker-1.9.0/bootstrap-datepicker.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/"
    "bootstrap-datepicker.min.css": (
        "vendor/bootstrap-datepicker-1.9.0/bootstrap-datepicker.min.css"
    ),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/"
    "bootstrap-prefers-dark.css": "vendor/bootstrap-dark-1.1.0/bootstrap-prefers-dark.min.css",
}
#: GX's image bucket (navigation bar logo, carrying a tracking query string; the dark-theme
#: logo of the inlined stylesheet) → GX's own copy, which every site has under static/images
_GX_IMAGES = re.compile(
    r"https://great-expectations-web-assets\.s3\.us-east-2\.amazonaws\.com/[A-Za-z_.-]+"
    r"(?:\?[^\"')\s]*)?"
)
_GX_LOGO = "images/logo-long.png"
#: the newsletter form of every page's footer (cloud-footer.j2): marketing that needs the web
_NEWSLETTER = re.compile(
    r"<p>[^<]*newsletter\s*<a href=\"https://greatexpectations\.io/[^>]*>.*?</p>", re.S
)
#: a resource the browser would fetch: src=, <link href=, css url( — not <a href> navigation
_EXTERNAL_RESOURCE = re.compile(
    r"""(?:\bsrc\s*=\s*|<link\b[^>]*?\bhref\s*=\s*|url\(\s*)["']?((?:https?:)?//[^"'\s>)]+)""",
    re.I,
)


def _install_vendor(site_dir: Path) -> None:
    """Copy the vendored files into ``<site>/static/vendor`` (only what is missing or changed)."""
    target = site_dir / SITE_VENDOR
    for source in VENDOR_DIR.rglob("*"):
        if not source.is_file():
            continue
        dest = target / source.relative_to(VENDOR_DIR)
        stat = source.stat()
        if (
            dest.is_file()
            and dest.stat().st_size == stat.st_size
            and dest.stat().st_mtime >= stat.st_mtime
        ):
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest)


def rewrite_page(html: str, static_prefix: str) -> str:
    """``html`` with every known external asset replaced by ``<static_prefix>/<file>``."""
    for url, local in sorted(CDN_ASSETS.items(), key=lambda item: -len(item[0])):
        html = re.sub(re.escape(url) + r"(?=[\"'])", f"{static_prefix}/{local}", html)
    html = _GX_IMAGES.sub(f"{static_prefix}/{_GX_LOGO}", html)
    html = _NEWSLETTER.sub("", html)
    # GX's subresource-integrity attributes name the CDN files; a local copy needs none
    html = re.sub(r'\s+integrity="[^"]*"\s+crossorigin="anonymous"', "", html)
    # GX's own relative links to static/ (its favicon link is one level short on validation
    # pages): one prefix for all
    html = re.sub(r'((?:src|href)=")(?:\./|(?:\.\./)+)?static/', rf"\g<1>{static_prefix}/", html)
    # the sidebar filter hides met expectations: what it shows are failures *and* warnings
    html = html.replace("> Failed Only", "> Unmet Only")
    return f"{OFFLINE_MARKER}\n{html}"


def external_resources(html: str) -> list[str]:
    """The external URLs ``html`` would load (scripts, stylesheets, images, css ``url()``)."""
    return _EXTERNAL_RESOURCE.findall(html)


def make_offline(site_dir: Path) -> list[str]:
    """Make the Data Docs site at ``site_dir`` self-contained; return what is still external.

    Installs the vendored assets and rewrites every page not yet rewritten. The return value
    lists ``file: url`` for each external resource left (a URL a newer GX added that
    :data:`CDN_ASSETS` does not know) — logged as a warning, and a test failure.
    """
    site_dir = Path(site_dir)
    if not site_dir.is_dir():
        return []
    _install_vendor(site_dir)
    static = site_dir / "static"
    leftovers: list[str] = []
    for page in site_dir.rglob("*.html"):
        with page.open(encoding="utf-8") as fh:
            if fh.read(len(OFFLINE_MARKER)) == OFFLINE_MARKER:
                continue
        text = page.read_text(encoding="utf-8")
        prefix = Path(os.path.relpath(static, page.parent)).as_posix()
        text = rewrite_page(text, prefix)
        tmp = page.with_name(page.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, page)
        leftovers += [f"{page.relative_to(site_dir)}: {url}" for url in external_resources(text)]
    if leftovers:
        log.warning(
            "Data Docs still load %d external resource(s) (not in CDN_ASSETS): %s",
            len(leftovers),
            "; ".join(leftovers[:5]),
        )
    return leftovers


# ------------------------------------------------------------------ warn-level status icons

_REGISTERED: set[str] = set()


def register_warning_status_icons() -> None:
    """Unmet ``warning``/``info`` expectations get a warning icon in validation pages.

    Wraps, per registered expectation type, the status-icon renderer GX registered: an unmet
    expectation whose severity is not critical (and that raised no exception) renders as a
    yellow triangle with "warning"; every other result is rendered by GX's own renderer.
    Idempotent (the gate may run several times in one process).
    """
    from great_expectations.expectations import registry
    from great_expectations.expectations.metadata_types import FailureSeverity
    from great_expectations.render import (
        LegacyDiagnosticRendererType,
        RenderedStringTemplateContent,
    )
    from great_expectations.render.renderer.renderer import renderer

    kind = LegacyDiagnosticRendererType.STATUS_ICON
    for expectation_type in registry.list_registered_expectation_implementations():
        if expectation_type in _REGISTERED:
            continue
        impl = registry.get_renderer_impl(object_name=expectation_type, renderer_type=kind)
        if impl is None:
            continue
        gx_renderer = impl.renderer

        @renderer(renderer_type=kind)
        def status_icon(
            configuration=None, result=None, runtime_configuration=None, _gx=gx_renderer
        ):
            config = getattr(result, "expectation_config", None)
            info = getattr(result, "exception_info", None) or {}
            if "raised_exception" in info:
                raised = bool(info["raised_exception"])
            else:
                raised = any(
                    isinstance(v, dict) and v.get("raised_exception") for v in info.values()
                )
            if (
                result is not None
                and not result.success
                and not raised
                and config is not None
                and config.severity != FailureSeverity.CRITICAL
            ):
                return RenderedStringTemplateContent(
                    content_block_type="string_template",
                    string_template={
                        "template": "$icon $label",
                        "params": {"icon": "", "label": "warning", "markdown_status_icon": "⚠️"},
                        "styling": {
                            "params": {
                                "icon": {
                                    "classes": ["fas", "fa-exclamation-triangle", "text-warning"],
                                    "tag": "i",
                                },
                                "label": {"classes": ["text-warning", "small"]},
                            }
                        },
                    },
                )
            return _gx(result=result)

        # GX logs every replaced renderer as a warning; replacing is the point here
        registry_log = logging.getLogger(registry.__name__)
        level = registry_log.level
        registry_log.setLevel(logging.ERROR)
        try:
            registry.register_renderer(
                object_name=expectation_type, parent_class=impl.expectation, renderer_fn=status_icon
            )
        finally:
            registry_log.setLevel(level)
        _REGISTERED.add(expectation_type)
