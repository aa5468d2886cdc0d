"""Write the dbt seed of Korean public holidays, transform/seeds/korean_public_holidays.csv.

Business-hour figures need the days Korea does not work. The `holidays` package (PyPI,
Open World Holidays Framework) knows them, lunar ones (설날, 추석, 부처님오신날) and substitute
holidays (대체 휴일) included. This script asks it for whole years and writes the seed beside its
properties file (`korean_public_holidays.yml`), which records the years, the package version and
the command, so the two never disagree. `make holidays` runs it with the default years;
`python scripts/korean_holidays.py FIRST_YEAR LAST_YEAR` chooses others.
"""

from __future__ import annotations

import argparse
import csv
import io
from importlib.metadata import version
from pathlib import Path

import holidays

PROJECT = Path(__file__).resolve().parent.parent
SEEDS = PROJECT / "transform" / "seeds"
SEED_NAME = "korean_public_holidays"
FIRST_YEAR, LAST_YEAR = 2018, 2032
# The calendar model numbers days with four decimal digits (10,000 days, 27 years).
MAX_YEARS = 27


def holiday_rows(first_year: int, last_year: int) -> list[tuple[str, str, str]]:
    """(date, Korean name, English name) of every public holiday in the years, in date order."""
    years = range(first_year, last_year + 1)
    korean = holidays.country_holidays("KR", years=years, language="ko")
    english = holidays.country_holidays("KR", years=years, language="en_US")
    return [(day.isoformat(), korean[day], english[day]) for day in sorted(korean)]


def seed_csv(first_year: int, last_year: int) -> str:
    """The seed's CSV text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("holiday_date", "holiday_name_ko", "holiday_name_en"))
    writer.writerows(holiday_rows(first_year, last_year))
    return buffer.getvalue()


def seed_properties(first_year: int, last_year: int) -> str:
    """The seed's properties file: its years and where its rows came from."""
    package = version("holidays")
    return f"""\
# Written by scripts/korean_holidays.py (`make holidays`) with the seed; do not edit by hand.
version: 2

seeds:
  - name: {SEED_NAME}
    description: >-
      Korean public holidays (공휴일) of {first_year} to {last_year}, one row per day off,
      substitute holidays (대체 휴일) included, from the `holidays` package {package}
      (PyPI, country KR): `python scripts/korean_holidays.py {first_year} {last_year}`. The
      business calendar spans exactly these years. Days the government declares later (an
      election, a one-off 임시공휴일) are in it only from the package version that knows them:
      regenerate, or add them as company days off (var happytalk_company_days_off).
    config:
      column_types:
        holiday_date: date
      meta:
        first_year: {first_year}
        last_year: {last_year}
        holidays_version: "{package}"
    columns:
      - name: holiday_date
        description: The day off (a calendar day in Korea).
        data_tests: [unique, not_null]
      - name: holiday_name_ko
        description: Its Korean name, as the package gives it.
      - name: holiday_name_en
        description: Its English name, as the package gives it.
"""


def write_seed(first_year: int, last_year: int, seeds: Path = SEEDS) -> list[Path]:
    """Write the CSV and its properties file into `seeds`; return their paths."""
    if not 0 <= last_year - first_year < MAX_YEARS:
        raise ValueError(f"choose 1 to {MAX_YEARS} years, first before last")
    seeds.mkdir(parents=True, exist_ok=True)
    written = {
        seeds / f"{SEED_NAME}.csv": seed_csv(first_year, last_year),
        seeds / f"{SEED_NAME}.yml": seed_properties(first_year, last_year),
    }
    for path, text in written.items():
        path.write_text(text, encoding="utf-8")
    return list(written)


def main() -> None:
    """`python scripts/korean_holidays.py [FIRST_YEAR LAST_YEAR]`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("first_year", type=int, nargs="?", default=FIRST_YEAR)
    parser.add_argument("last_year", type=int, nargs="?", default=LAST_YEAR)
    arguments = parser.parse_args()
    for path in write_seed(arguments.first_year, arguments.last_year):
        print(f"wrote {path.relative_to(PROJECT) if path.is_relative_to(PROJECT) else path}")


if __name__ == "__main__":
    main()
