"""The seed of Korean public holidays is what `make holidays` writes, and holds what it should."""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING

import pytest
import yaml

from .conftest import PROJECT, load_script

if TYPE_CHECKING:
    from types import ModuleType

SEEDS = PROJECT / "transform" / "seeds"


def generator() -> ModuleType:
    return load_script("korean_holidays")


def seed_rows() -> dict[str, tuple[str, str]]:
    with (SEEDS / "korean_public_holidays.csv").open(encoding="utf-8", newline="") as file:
        return {
            row["holiday_date"]: (row["holiday_name_ko"], row["holiday_name_en"])
            for row in csv.DictReader(file)
        }


def test_the_seed_is_what_the_generator_writes_for_its_years(tmp_path):
    """`make holidays` for the seed's own years rewrites it byte for byte (same package)."""
    properties = yaml.safe_load((SEEDS / "korean_public_holidays.yml").read_text(encoding="utf-8"))
    meta = properties["seeds"][0]["config"]["meta"]
    written = generator().write_seed(meta["first_year"], meta["last_year"], tmp_path)
    assert sorted(path.name for path in written) == [
        "korean_public_holidays.csv",
        "korean_public_holidays.yml",
    ]
    for path in written:
        assert path.read_text(encoding="utf-8") == (SEEDS / path.name).read_text(encoding="utf-8")
    days = seed_rows()
    assert {day[:4] for day in days} == {
        str(year) for year in range(meta["first_year"], meta["last_year"] + 1)
    }
    assert f"`holidays` package {meta['holidays_version']}" in properties["seeds"][0]["description"]


def test_the_seed_knows_chuseok_seollal_and_substitute_holidays():
    days = seed_rows()
    # 2024: Chuseok Mon 16 to Wed 18 September; Seollal Fri 9 to Sun 11 February, and Monday
    # 12 February in lieu of the Sunday; Children's Day on a Sunday, so Monday 6 May too.
    assert days["2024-09-17"][0] == "추석"
    assert {"2024-09-16", "2024-09-18", "2024-02-09", "2024-02-10", "2024-02-11"} <= set(days)
    assert "대체" in days["2024-02-12"][0]
    assert "대체" in days["2024-05-06"][0]
    assert days["2024-12-25"][1] == "Christmas Day"
    assert "2024-09-19" not in days


def test_the_generator_refuses_more_years_than_the_calendar_counts(tmp_path):
    with pytest.raises(ValueError, match="1 to 27 years"):
        generator().write_seed(2000, 2030, tmp_path)
    assert not list(tmp_path.iterdir())
