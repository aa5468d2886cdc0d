# One command per job; each creates .venv and installs what that job needs on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# uv installs in seconds what pip takes minutes for (the SDK's own template uses it too). It is
# installed into .venv by pip, so nothing but Python 3.10+ and make is needed beforehand.
UV := $(BIN)/uv
UV_VERSION := 0.13.10
# The demo needs only the tap, Meltano, dbt on DuckDB and the chart renderer: `make demo` on a
# fresh clone installs that (benchmarks/first_demo.py times it); `make test` installs the rest.
DEMO_INSTALLED := $(VENV)/.installed-demo
INSTALLED := $(VENV)/.installed

.PHONY: test lint demo server install dist bench bench-dbt bench-accounts faults soak clean holidays

# The whole suite: static checks, then every test.
test: lint
	$(BIN)/pytest

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The main job: sample HappyTalk data through `meltano run` into output/, the dbt models over
# it, a summary on the terminal and output/report.html.
demo: $(DEMO_INSTALLED)
	$(BIN)/python scripts/demo.py $(if $(TARGET_MINUTES),--target-minutes=$(TARGET_MINUTES)) $(if $(REPORT_LANGUAGE),--language=$(REPORT_LANGUAGE))

# The local HappyTalk-compatible server alone, for the README's quick start (Ctrl-C stops it).
# Its knobs: make server SERVER_ARGS="--port 9000 --days 60"; `--help` lists them.
SERVER_ARGS ?=
server: $(DEMO_INSTALLED)
	$(BIN)/python -m local_happytalk $(SERVER_ARGS)

# The dbt seed of Korean public holidays (transform/seeds/), from the `holidays` package.
# Other years: make holidays HOLIDAY_YEARS="2020 2035"
HOLIDAY_YEARS ?=
holidays: $(INSTALLED)
	$(BIN)/python scripts/korean_holidays.py $(HOLIDAY_YEARS)

install: $(INSTALLED)

# Release artefacts in dist/: the sdist, the wheel built from it, both checked as PyPI checks
# them. No build isolation: hatchling and hatch-vcs come from .venv, so this works offline.
# The version comes from git: a tag vX.Y.Z on a clean checkout builds X.Y.Z.
dist: $(INSTALLED)
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist .
	$(BIN)/twine check --strict dist/*

$(UV):
	$(PYTHON) -c 'import sys; sys.exit("Python 3.10 or newer is needed") if sys.version_info < (3, 10) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check 'uv==$(UV_VERSION)'

$(DEMO_INSTALLED): pyproject.toml | $(UV)
	$(UV) pip install --quiet --python $(BIN)/python -e '.[demo]'
	touch $@

$(INSTALLED): pyproject.toml | $(UV)
	$(UV) pip install --quiet --python $(BIN)/python -e '.[dev,dbt]'
	touch $@ $(DEMO_INSTALLED)

clean:
	rm -rf $(VENV) .meltano output dist .mypy_cache .pytest_cache .ruff_cache .hypothesis

# Speed: prints the benchmark table the README quotes.
bench: $(INSTALLED)
	$(BIN)/python benchmarks/bench.py

# The dbt models at a year's scale (730,000 rooms) on DuckDB: build time, peak memory, and the
# build after one more day. Prints the table the README quotes; takes tens of minutes.
bench-dbt: $(INSTALLED)
	$(BIN)/python benchmarks/dbt_scale.py

# 1, 4 and 8 accounts side by side, Meltano's state in a throwaway PostgreSQL (docs/PERFORMANCE.md).
BENCH_ACCOUNTS_ARGS ?=
bench-accounts: $(INSTALLED)
	bash -c 'source .ci/postgres.sh && $(BIN)/python benchmarks/accounts.py $(BENCH_ACCOUNTS_ARGS)'

# Robustness: prints the fault matrix the README quotes.
faults: $(INSTALLED)
	$(BIN)/python benchmarks/faults.py

# Endurance: a month of hourly runs with faults, against the ground truth (not part of `test`).
# Shorter: make soak SOAK_ARGS="--days 3"
SOAK_ARGS ?=
soak: $(INSTALLED)
	$(BIN)/python benchmarks/soak.py $(SOAK_ARGS)
