"""The README says what the tap says about itself."""

from __future__ import annotations

from pathlib import Path

from .conftest import tap_about

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_settings_table_is_the_one_about_prints():
    about = tap_about("markdown")
    readme = README.read_text(encoding="utf-8")
    rows = [line for line in about.splitlines() if line.startswith("| ")]
    own = [row for row in rows if not row.startswith(("| stream_map", "| faker", "| flatten"))]
    assert len(own) == 16  # the header and fifteen settings
    for row in own:
        assert row in readme, f"README lacks: {row}"


def test_readme_first_screen_has_the_two_commands():
    first_screen = "\n".join(README.read_text(encoding="utf-8").splitlines()[:20])
    assert "make demo" in first_screen
    assert "make test" in first_screen
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci
