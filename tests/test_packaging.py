"""A non-editable install works too: the wheel carries the templates, static files and data."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from .conftest import REPO

pytestmark = pytest.mark.slow


def test_wheel_contains_web_assets_and_data(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), str(REPO)],
                   check=True, capture_output=True, timeout=300)
    [wheel] = tmp_path.glob("kunskap-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("kunskap/_web/templates/base.html", "kunskap/_web/static/kunskap.css",
                     "kunskap/_web/static/embed.js", "kunskap/data/themes.md", "kunskap/data/organisations.csv",
                     "kunskap/data/stopwords_sv.txt", "kunskap/cli.py"):
        assert required in names, required
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "kunskap = kunskap.cli:cli" in zipfile.ZipFile(wheel).read(entry_points).decode()
