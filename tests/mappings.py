"""Mapping files for tests, independent of what the shipped ``mapping/sources.yml`` holds.

The shipped mapping is the federation's configuration: templates get added to it as streets
switch systems. Tests must not depend on that. :data:`CONTRACT_MAPPING` is the shipped mapping
with its templates removed (the landing contract's defaults only); ``tests/conftest.py`` points
``GONGHUI_MAPPING`` at it for the whole session, so in-process code and the pipelines the tests
start in subprocesses read the same contract-only mapping. :func:`mapping_with_templates` writes
a copy with the given templates instead.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from orchestration.lib.mapping import DEFAULT_MAPPING_PATH


def mapping_with_templates(folder: Path, templates_yaml: str = "", name: str = "sources.yml"):
    """``folder/name``: the shipped mapping whose top-level ``templates:`` entry is exactly
    ``templates_yaml`` (a YAML list, e.g. ``"  - name: x\\n    kind: …"``; empty → none).

    The entry is replaced as text, so everything else stays byte for byte as shipped."""
    text = DEFAULT_MAPPING_PATH.read_text(encoding="utf-8")
    entry = re.compile(r"^templates:.*?(?=^\S|\Z)", re.MULTILINE | re.DOTALL)
    text = entry.sub("", text).rstrip("\n") + "\n"
    text += (
        "templates:\n" + templates_yaml.strip("\n") + "\n"
        if templates_yaml.strip()
        else ("templates: []\n")
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


#: the shipped mapping without templates, written once per test session
CONTRACT_MAPPING = mapping_with_templates(
    Path(tempfile.mkdtemp(prefix="gonghui-test-mapping-")), name="contract.yml"
)
