# Vigie — every file under data/processed/ and maps/ is a target of its own, made from
# its inputs AND the code that makes it, so `make` re-runs only what is out of date.
# Phony targets (demo, test, …) are aliases; no file rule depends on a phony one.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.SECONDEXPANSION:
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

CONFIG    ?= config/demo.toml
SEED      ?= 42
PYTHON    ?= $(shell command -v python3.11 || command -v python3)
VENV      := .venv
PY        := $(VENV)/bin/python
VIGIE     := $(PY) -m pipelines -q
PROCESSED := data/processed
MAPS      := maps
STAMPS    := .stamps

VENV_STAMP    := $(VENV)/.installed
NODE_STAMP    := node_modules/.package-lock.json
BROWSER_STAMP := $(STAMPS)/browser

# Code every stage depends on; each stage adds its own module.
COMMON := pipelines/__init__.py pipelines/cli.py pipelines/config.py pipelines/io.py \
          pipelines/crs.py pipelines/errors.py pipelines/taxonomy.py pipelines/paths.py

# The configuration's sites and their inputs (SITES, OSM_<site>, SOURCES_<site>, …).
DEPS := build/deps.mk
ifeq ($(filter help clean distclean,$(MAKECMDGOALS)),)
include $(DEPS)
endif

## help: liste les cibles
.PHONY: help
help:
	@echo "Vigie — cibles make (configuration : $(CONFIG))"
	@awk 'BEGIN {FS = ": "} /^## / {sub(/^## /, ""); split($$0, a, ": "); printf "  make %-12s %s\n", a[1], a[2]}' $(MAKEFILE_LIST)

## demo: installe puis produit toutes les cartes de la configuration (maps/index.html)
.PHONY: demo
demo: $(MAPS)/index.html
	@echo "Cartes prêtes : $(MAPS)/index.html"

## setup: installe tout (.venv, Node/npm et fichiers Leaflet, Chromium) sans rien lancer
.PHONY: setup
setup: $(VENV_STAMP) $(NODE_STAMP) $(BROWSER_STAMP)

## test: installe puis lance toute la suite de tests (navigateur compris)
.PHONY: test
test: $(VENV_STAMP) $(NODE_STAMP) $(BROWSER_STAMP) $(SIMULATED_bondy)
	$(PY) -m pytest

## simulate: (ré)écrit les signalements simulés de Bondy dans data/raw/bondy/
.PHONY: simulate
simulate: $(SIMULATED_bondy)

## screenshots: captures PNG de chaque carte et de l'index dans screenshots/ (Chromium)
.PHONY: screenshots
screenshots: screenshots/index.png

## lint: contrôle du code (ruff, format, mypy)
.PHONY: lint
lint: $(VENV_STAMP)
	$(VENV)/bin/ruff check pipelines tests bench
	$(VENV)/bin/ruff format --check pipelines tests bench
	$(VENV)/bin/mypy pipelines

## format: met en forme le code (ruff)
.PHONY: format
format: $(VENV_STAMP)
	$(VENV)/bin/ruff format pipelines tests bench
	$(VENV)/bin/ruff check --fix pipelines tests bench

## bench: mesures de vitesse et de mémoire sur une ville synthétique
.PHONY: bench
bench: $(VENV_STAMP) $(NODE_STAMP) $(BROWSER_STAMP)
	$(PY) -m bench

## clean: efface tout ce qui a été produit (données traitées, cartes, données simulées)
.PHONY: clean
clean:
	rm -rf $(PROCESSED)/* $(MAPS)/*.html $(MAPS)/*.png build screenshots
	rm -f data/raw/bondy/signalements_bailleur.csv data/raw/bondy/observations_diagnostic.geojson \
	      data/raw/bondy/observations_kobo.csv data/raw/bondy/simulation_truth.json \
	      data/raw/bondy/gazetteer.csv

## distclean: clean, plus l'environnement .venv et node_modules
.PHONY: distclean
distclean: clean
	rm -rf $(VENV) node_modules $(STAMPS)

# ---------------------------------------------------------------- installation
# Exact versions from requirements.lock (the set CI tests), then Vigie itself without
# resolving anything again. `make lock` refreshes the lock from pyproject.toml's ranges.
$(VENV_STAMP): requirements.lock pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 introuvable"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

## lock: recalcule requirements.lock (versions exactes) depuis les bornes de pyproject.toml
.PHONY: lock
lock: $(VENV_STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check pip-tools
	$(VENV)/bin/pip-compile --quiet --upgrade --extra dev --strip-extras --no-emit-index-url \
	  --no-emit-find-links --output-file requirements.lock pyproject.toml

$(STAMPS)/node: scripts/setup-system.sh
	bash scripts/setup-system.sh node
	@mkdir -p $(STAMPS) && touch $@

$(BROWSER_STAMP): scripts/setup-system.sh
	bash scripts/setup-system.sh browser
	@mkdir -p $(STAMPS) && touch $@

$(NODE_STAMP): package.json package-lock.json | $(STAMPS)/node
	npm ci --no-audit --no-fund --loglevel=error

$(DEPS): $(CONFIG) pipelines/_makedeps.py pipelines/config.py | $(VENV_STAMP)
	$(VIGIE) deps --config $(CONFIG) --out $@

# ---------------------------------------------------------------- per-site stages
INGEST_CODE := pipelines/ingest.py pipelines/_ingest_schema.py pipelines/_ingest_cells.py \
    pipelines/_ingest_partition.py pipelines/_ingest_gather.py pipelines/_ingest_rejects.py \
    pipelines/_ingest_versions.py pipelines/summary.py \
    pipelines/_readers.py pipelines/_csv.py pipelines/_rawfile.py pipelines/_values.py \
    pipelines/_bytes.py pipelines/_scrub.py

$(PROCESSED)/%/buildings_osm.parquet: $$(OSM_$$*) $$(RPLS_$$*) $(CONFIG) pipelines/buildings.py \
    pipelines/_osm_sources.py pipelines/_osm_reader.py $(COMMON) | $(VENV_STAMP)
	$(VIGIE) buildings --osm "$(OSMSPEC_$*)" $(if $(RPLS_$*),--rpls $(RPLS_$*)) --out $@

$(PROCESSED)/%/ingested.parquet $(PROCESSED)/%/rejected.csv $(PROCESSED)/%/outside_study_area.csv \
$(PROCESSED)/%/report_history.csv $(PROCESSED)/%/ingest_summary.json: $$(SOURCES_$$*) $(CONFIG) \
    $(INGEST_CODE) $(COMMON) | $(VENV_STAMP)
	$(VIGIE) ingest --config $(CONFIG) --site $* --out-dir $(PROCESSED)/$*

$(PROCESSED)/%/reports.parquet $(PROCESSED)/%/geocode_summary.json: $(PROCESSED)/%/ingested.parquet \
    $(PROCESSED)/%/buildings_osm.parquet $$(REFS_$$*) $(CONFIG) pipelines/geocode.py \
    pipelines/addresses.py pipelines/address_index.py pipelines/_osm_addresses.py pipelines/_ban.py \
    pipelines/_address_match.py pipelines/_osm_sources.py pipelines/_osm_reader.py \
    pipelines/_likely_duplicates.py \
    $(COMMON) | $(VENV_STAMP)
	$(VIGIE) geocode --config $(CONFIG) --site $* --reports $< \
	  --buildings $(PROCESSED)/$*/buildings_osm.parquet \
	  --out $(PROCESSED)/$*/reports.parquet --summary $(PROCESSED)/$*/geocode_summary.json

HOTSPOT_CODE := pipelines/hotspots.py pipelines/hotspot_stats.py pipelines/density.py \
    pipelines/chronic.py pipelines/hotspot_checks.py pipelines/hotspot_params.py pipelines/method_note.py \
    pipelines/_html.py pipelines/templates/method_note.html pipelines/templates/method_note.css
$(PROCESSED)/%/buildings.parquet $(PROCESSED)/%/hex.parquet $(PROCESSED)/%/kde.parquet \
$(PROCESSED)/%/kde_grid.parquet $(PROCESSED)/%/chronic.csv $(PROCESSED)/%/method_note.html \
$(PROCESSED)/%/method_note.md $(PROCESSED)/%/hotspot_summary.json: $(PROCESSED)/%/reports.parquet \
    $(PROCESSED)/%/buildings_osm.parquet $$(SIMULATED_$$*) $(CONFIG) $(HOTSPOT_CODE) $(COMMON) | $(VENV_STAMP)
	$(VIGIE) hotspots --config $(CONFIG) --site $* --reports $< \
	  --buildings $(PROCESSED)/$*/buildings_osm.parquet --out-dir $(PROCESSED)/$*

$(PROCESSED)/%/zones.parquet $(PROCESSED)/%/building_zones.csv $(PROCESSED)/%/zone_summary.json: \
    $(PROCESSED)/%/buildings.parquet $(CONFIG) pipelines/zones.py $(COMMON) | $(VENV_STAMP)
	$(VIGIE) zones --config $(CONFIG) --site $* --buildings $< --out-dir $(PROCESSED)/$*

TREND_CODE := pipelines/trends.py pipelines/_trend_series.py pipelines/_trend_hotspots.py \
    pipelines/_trend_followup.py pipelines/_trend_charts.py pipelines/charts.py pipelines/emerging.py \
    pipelines/trend_stats.py pipelines/hotspot_stats.py pipelines/hotspot_params.py
$(PROCESSED)/%/trends.parquet $(PROCESSED)/%/trend_tests.parquet $(PROCESSED)/%/emerging.parquet \
$(PROCESSED)/%/before_after.parquet $(PROCESSED)/%/followup.csv $(PROCESSED)/%/backlog.csv \
$(PROCESSED)/%/trend_summary.json $(PROCESSED)/%/charts/reports_by_category.png: \
    $(PROCESSED)/%/reports.parquet $(PROCESSED)/%/buildings_osm.parquet $(CONFIG) $(TREND_CODE) \
    $(COMMON) | $(VENV_STAMP)
	$(VIGIE) trends --config $(CONFIG) --site $* --reports $< \
	  --buildings $(PROCESSED)/$*/buildings_osm.parquet --out-dir $(PROCESSED)/$*

$(PROCESSED)/%/annotations.parquet $(PROCESSED)/%/annotations.geojson $(PROCESSED)/%/annotations.csv \
$(PROCESSED)/%/annotation_summary.json: $$(ANNOTATIONS_$$*) $(PROCESSED)/%/buildings.parquet \
    $(PROCESSED)/%/zones.parquet $(CONFIG) pipelines/annotations.py $(wildcard pipelines/_annotation_*.py) pipelines/zones.py \
    $(wildcard pipelines/templates/*) $(COMMON) | $(VENV_STAMP)
	$(VIGIE) annotations --config $(CONFIG) --site $* --buildings $(PROCESSED)/$*/buildings.parquet \
	  --zones $(PROCESSED)/$*/zones.parquet --out-dir $(PROCESSED)/$*

$(PROCESSED)/%/basemap.parquet: $$(OSM_$$*) pipelines/basemap.py pipelines/_osm_reader.py \
    $(COMMON) | $(VENV_STAMP)
	$(VIGIE) basemap --osm "$(OSMSPEC_$*)" --out $@

STAGE_SUMMARIES = $(foreach f,ingest_summary geocode_summary hotspot_summary zone_summary \
    trend_summary annotation_summary,$(PROCESSED)/$(1)/$(f).json)
$(PROCESSED)/%/run_summary.json: $$(call STAGE_SUMMARIES,$$*) $(CONFIG) pipelines/summary.py \
    $(COMMON) | $(VENV_STAMP)
	$(VIGIE) summary --config $(CONFIG) --site $* --out $@

MAP_CODE := pipelines/maps.py $(wildcard pipelines/_map_*.py) pipelines/_assets.py pipelines/_html.py \
    pipelines/charts_map.py pipelines/basemap.py pipelines/annotations.py $(wildcard pipelines/_annotation_*.py) $(wildcard pipelines/templates/*)
$(MAPS)/%.html $(MAPS)/%.png: $(PROCESSED)/%/buildings.parquet $(PROCESSED)/%/reports.parquet \
    $(PROCESSED)/%/run_summary.json $(PROCESSED)/%/basemap.parquet $(PROCESSED)/%/kde.parquet \
    $(PROCESSED)/%/chronic.csv $(PROCESSED)/%/emerging.parquet $(PROCESSED)/%/followup.csv \
    $(PROCESSED)/%/zones.parquet $(PROCESSED)/%/annotations.parquet $(CONFIG) $(MAP_CODE) $(COMMON) \
    | $(VENV_STAMP) $(NODE_STAMP)
	$(VIGIE) map --config $(CONFIG) --site $* --out $(MAPS)/$*.html

$(MAPS)/index.html: $$(foreach s,$$(SITES),$(MAPS)/$$(s).html $(PROCESSED)/$$(s)/run_summary.json) \
    pipelines/maps.py pipelines/_map_index.py pipelines/annotations.py $(wildcard pipelines/_annotation_*.py) \
    pipelines/_html.py $(wildcard pipelines/templates/*) $(COMMON) | $(VENV_STAMP)
	$(VIGIE) index --config $(CONFIG) --out $@

screenshots/index.png: $(MAPS)/index.html $$(foreach s,$$(SITES),$(MAPS)/$$(s).html) \
    pipelines/screenshots.py | $(VENV_STAMP) $(BROWSER_STAMP)
	$(VIGIE) screenshots --maps-dir $(MAPS) --out-dir screenshots

# Intermediate files are real targets; keep them.
.SECONDARY:
