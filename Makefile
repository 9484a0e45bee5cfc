# Vigie — every file under the configuration's processed_dir and maps_dir (data/processed/
# and maps/ by default) is a target of its own, made from its inputs AND the code that
# makes it, so `make` re-runs only what is out of date.
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
STAMPS    := .stamps

# $(call q,TEXT): TEXT as one shell word. Recipes quote every path with it, since the
# configuration's paths may hold spaces, accents, apostrophes and parentheses.
q = '$(subst ','\'',$(1))'

# $(call vigie_glob,BASH-PATTERN): the files matching, escaped for a prerequisite list
# (`vigie deps` writes the patterns). make's own $(wildcard) cuts the names it returns at
# their spaces; bash's *, ? and [...] match as Python's glob.glob does.
vigie_glob = $(shell shopt -s nullglob; for f in $(1); do if [ -f "$$f" ]; then \
    printf '%s\n' "$$f"; fi; done | sed -e 's/[ #]/\\&/g')

# The folders come from the configuration (its [project] keys), through the generated
# fragment below; these defaults only serve `make clean` before any build.
PROCESSED       := data/processed
RAW_PROCESSED   := data/processed
MAPS            := maps
RAW_MAPS        := maps
ANNOTATIONS     := data/annotations
RAW_ANNOTATIONS := data/annotations

VENV_STAMP    := $(VENV)/.installed
NODE_STAMP    := node_modules/.package-lock.json
BROWSER_STAMP := $(STAMPS)/browser

# Code every stage depends on; each stage adds its own module.
COMMON := pipelines/__init__.py pipelines/cli.py pipelines/config.py pipelines/io.py \
          pipelines/crs.py pipelines/errors.py pipelines/taxonomy.py pipelines/paths.py

ifneq ($(words $(CONFIG)),1)
$(error CONFIG : donnez un seul fichier de configuration, sans espace dans son chemin (« $(CONFIG) »))
endif

# The configuration's folders, sites and inputs (PROCESSED, MAPS, ANNOTATIONS, SITES,
# OSM_<site>, SOURCES_<site>, …), written by `vigie deps`: one fragment per content of the
# configuration, so that switching CONFIG= (and back) never reads another one's fragment.
CONFIG_KEY := $(firstword $(shell sha256sum 2>/dev/null < $(call q,$(CONFIG)) | cut -c1-16))
DEPS := build/deps-$(CONFIG_KEY).mk
CLEANING := $(filter help clean distclean,$(MAKECMDGOALS))
ifeq ($(CLEANING),)
ifeq ($(CONFIG_KEY),)
$(error Configuration introuvable ou illisible : $(CONFIG))
endif
include $(DEPS)
else
# `make clean` reads the configuration's folders if it was built, never builds anything.
include $(wildcard $(DEPS))
endif

# Which configuration the files of an output folder were made with. Every file rule
# depends on its folder's stamp; a new configuration writes a new stamp and removes the
# others, so switching CONFIG= re-makes the folder, and switching back does too (the
# files then come from the other configuration), even when both share the folder.
CONFIG_STAMP = $(PROCESSED)/.vigie-config-$(CONFIG_KEY)
MAPS_STAMP   = $(MAPS)/.vigie-config-$(CONFIG_KEY)

## help: liste les cibles
.PHONY: help
help:
	@echo "Vigie — cibles make (configuration : $(CONFIG))"
	@awk 'BEGIN {FS = ": "} /^## / {sub(/^## /, ""); split($$0, a, ": "); printf "  make %-12s %s\n", a[1], a[2]}' $(MAKEFILE_LIST)

## demo: installe puis produit toutes les cartes de la configuration (maps/index.html)
.PHONY: demo
demo: $$(MAPS)/index.html
	@echo "Cartes prêtes :" $(call q,$(RAW_MAPS)/index.html)

## setup: installe tout (.venv, Node/npm et fichiers Leaflet, Chromium) sans rien lancer
.PHONY: setup
setup: $(VENV_STAMP) $(NODE_STAMP) $(BROWSER_STAMP)

## test: installe puis lance toute la suite de tests (navigateur compris)
.PHONY: test
test: $(VENV_STAMP) $(NODE_STAMP) $(BROWSER_STAMP) $(SIMULATED_bondy)
	$(PY) -m pytest

## test-fast: tests unitaires seulement (ni navigateur, ni passage de bout en bout)
.PHONY: test-fast
test-fast: $(VENV_STAMP) $(NODE_STAMP) $(SIMULATED_bondy)
	$(PY) -m pytest -m "not browser and not slow"

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
# Also the temporary files that a killed run leaves beside its outputs (pipelines/io.py
# writes `.<name>.<random>.tmp` in the destination folder, then renames it). The notes and
# their archive (annotations_dir/.archive) stay; only stray temporary files go from there.
.PHONY: clean
clean:
	rm -rf data/processed/* maps/*.html maps/*.png build screenshots
	rm -rf $(foreach s,$(SITES),$(call q,$(RAW_PROCESSED)/$(s)) $(call q,$(RAW_MAPS)/$(s)).html \
	    $(call q,$(RAW_MAPS)/$(s)).png) $(call q,$(RAW_MAPS))/index.html
	rm -f $(call q,$(RAW_PROCESSED))/.vigie-config-* $(call q,$(RAW_MAPS))/.vigie-config-*
	for d in data/processed maps $(call q,$(RAW_PROCESSED)) $(call q,$(RAW_MAPS)); do \
	  if [ -d "$$d" ]; then find "$$d" -type f -name '*.tmp' -delete; fi; \
	done
	for d in $(call q,$(RAW_ANNOTATIONS)/.archive) data/raw/bondy; do \
	  if [ -d "$$d" ]; then find "$$d" -type f -name '.*.tmp' -delete; fi; \
	done

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

# Under .SECONDEXPANSION, a path with an escaped space (`\ `) must reach a prerequisite
# list in the second expansion only, hence `$$(PROCESSED)` and `$$(MAPS)` in them: a name
# expanded in the first one is split at its spaces.
$(STAMPS)/node: scripts/setup-system.sh
	bash scripts/setup-system.sh node
	@mkdir -p $(STAMPS) && touch $@

$(BROWSER_STAMP): scripts/setup-system.sh
	bash scripts/setup-system.sh browser
	@mkdir -p $(STAMPS) && touch $@

$(NODE_STAMP): package.json package-lock.json | $(STAMPS)/node
	npm ci --no-audit --no-fund --loglevel=error

ifeq ($(CLEANING),)
# `+`: written even by `make -n` / `--question`, which would otherwise show an empty plan
# for a configuration seen for the first time.
$(DEPS): pipelines/_makedeps.py pipelines/config.py | $(VENV_STAMP)
	+$(VIGIE) deps --config $(call q,$(CONFIG)) --out $@
endif

# An explicit rule, not a pattern one: a missing file made only by a pattern rule would be
# "intermediate", and make does not re-make a target for a missing intermediate file.
$(CONFIG_STAMP) $(MAPS_STAMP):
	mkdir -p "$$(dirname $(call q,$@))"
	rm -f "$$(dirname $(call q,$@))"/.vigie-config-*
	printf 'configuration : %s\nsha256 : %s\n' $(call q,$(CONFIG)) $(CONFIG_KEY) > $(call q,$@)

# ---------------------------------------------------------------- per-site stages
INGEST_CODE := pipelines/ingest.py pipelines/_ingest_schema.py pipelines/_ingest_cells.py \
    pipelines/_ingest_partition.py pipelines/_ingest_gather.py pipelines/_ingest_rejects.py \
    pipelines/_ingest_versions.py pipelines/summary.py \
    pipelines/_readers.py pipelines/_csv.py pipelines/_rawfile.py pipelines/_values.py \
    pipelines/_scrub.py

# In a recipe: the site's processed folder, and the configuration, as shell words.
SITE_DIR = $(call q,$(RAW_PROCESSED)/$*)
CFG      = $(call q,$(CONFIG))

$(PROCESSED)/%/buildings_osm.parquet $(PROCESSED)/%/buildings_summary.json: $$(OSM_$$*) $$(RPLS_$$*) \
    $$(CONFIG_STAMP) pipelines/buildings.py pipelines/_osm_sources.py pipelines/_osm_reader.py \
    $(COMMON) | $(VENV_STAMP)
	$(VIGIE) buildings --osm $(call q,$(OSMSPEC_$*)) \
	  $(if $(RAW_RPLS_$*),--rpls $(call q,$(RAW_RPLS_$*))) --out $(SITE_DIR)/buildings_osm.parquet

$(PROCESSED)/%/ingested.parquet $(PROCESSED)/%/rejected.csv $(PROCESSED)/%/outside_study_area.csv \
$(PROCESSED)/%/report_history.csv $(PROCESSED)/%/ingest_summary.json: $$(SOURCES_$$*) $$(CONFIG_STAMP) \
    $(INGEST_CODE) $(COMMON) | $(VENV_STAMP)
	$(VIGIE) ingest --config $(CFG) --site $* --out-dir $(SITE_DIR)

$(PROCESSED)/%/reports.parquet $(PROCESSED)/%/geocode_summary.json: $$(PROCESSED)/%/ingested.parquet \
    $$(PROCESSED)/%/buildings_osm.parquet $$(REFS_$$*) $$(CONFIG_STAMP) pipelines/geocode.py \
    pipelines/addresses.py pipelines/address_index.py pipelines/_osm_addresses.py pipelines/_ban.py \
    pipelines/_address_match.py pipelines/_osm_sources.py pipelines/_osm_reader.py \
    pipelines/_likely_duplicates.py \
    $(COMMON) | $(VENV_STAMP)
	$(VIGIE) geocode --config $(CFG) --site $* --reports $(call q,$<) \
	  --buildings $(SITE_DIR)/buildings_osm.parquet \
	  --out $(SITE_DIR)/reports.parquet --summary $(SITE_DIR)/geocode_summary.json

HOTSPOT_CODE := pipelines/hotspots.py pipelines/hotspot_stats.py pipelines/density.py \
    pipelines/chronic.py pipelines/hotspot_checks.py pipelines/hotspot_params.py pipelines/method_note.py \
    pipelines/_html.py pipelines/templates/method_note.html pipelines/templates/method_note.css
$(PROCESSED)/%/buildings.parquet $(PROCESSED)/%/hex.parquet $(PROCESSED)/%/kde.parquet \
$(PROCESSED)/%/kde_grid.parquet $(PROCESSED)/%/chronic.csv $(PROCESSED)/%/method_note.html \
$(PROCESSED)/%/method_note.md $(PROCESSED)/%/hotspot_summary.json: $$(PROCESSED)/%/reports.parquet \
    $$(PROCESSED)/%/buildings_osm.parquet $$(SIMULATED_$$*) $$(CONFIG_STAMP) $(HOTSPOT_CODE) $(COMMON) \
    | $(VENV_STAMP)
	$(VIGIE) hotspots --config $(CFG) --site $* --reports $(call q,$<) \
	  --buildings $(SITE_DIR)/buildings_osm.parquet --out-dir $(SITE_DIR)

$(PROCESSED)/%/zones.parquet $(PROCESSED)/%/building_zones.csv $(PROCESSED)/%/zone_summary.json: \
    $$(PROCESSED)/%/buildings.parquet $$(CONFIG_STAMP) pipelines/zones.py $(COMMON) | $(VENV_STAMP)
	$(VIGIE) zones --config $(CFG) --site $* --buildings $(call q,$<) --out-dir $(SITE_DIR)

TREND_CODE := pipelines/trends.py pipelines/_trend_series.py pipelines/_trend_hotspots.py \
    pipelines/_trend_followup.py pipelines/_trend_charts.py pipelines/charts.py pipelines/emerging.py \
    pipelines/trend_stats.py pipelines/hotspot_stats.py pipelines/hotspot_params.py
$(PROCESSED)/%/trends.parquet $(PROCESSED)/%/trend_tests.parquet $(PROCESSED)/%/emerging.parquet \
$(PROCESSED)/%/before_after.parquet $(PROCESSED)/%/followup.csv $(PROCESSED)/%/backlog.csv \
$(PROCESSED)/%/trend_summary.json $(PROCESSED)/%/charts/reports_by_category.png: \
    $$(PROCESSED)/%/reports.parquet $$(PROCESSED)/%/buildings_osm.parquet $$(CONFIG_STAMP) $(TREND_CODE) \
    $(COMMON) | $(VENV_STAMP)
	$(VIGIE) trends --config $(CFG) --site $* --reports $(call q,$<) \
	  --buildings $(SITE_DIR)/buildings_osm.parquet --out-dir $(SITE_DIR)

$(PROCESSED)/%/annotations.parquet $(PROCESSED)/%/annotations.geojson $(PROCESSED)/%/annotations.csv \
$(PROCESSED)/%/annotation_summary.json: $$(ANNOTATIONS_$$*) $$(PROCESSED)/%/buildings.parquet \
    $$(PROCESSED)/%/zones.parquet $$(CONFIG_STAMP) pipelines/annotations.py $(wildcard pipelines/_annotation_*.py) pipelines/zones.py \
    $(wildcard pipelines/templates/*) $(COMMON) | $(VENV_STAMP)
	$(VIGIE) annotations --config $(CFG) --site $* --buildings $(SITE_DIR)/buildings.parquet \
	  --zones $(SITE_DIR)/zones.parquet --out-dir $(SITE_DIR)

$(PROCESSED)/%/basemap.parquet $(PROCESSED)/%/basemap_summary.json: $$(OSM_$$*) $$(CONFIG_STAMP) \
    pipelines/basemap.py pipelines/_osm_reader.py $(COMMON) | $(VENV_STAMP)
	$(VIGIE) basemap --osm $(call q,$(OSMSPEC_$*)) --out $(SITE_DIR)/basemap.parquet

STAGE_SUMMARIES = $(foreach f,buildings_summary basemap_summary ingest_summary geocode_summary \
    hotspot_summary zone_summary trend_summary annotation_summary,$(PROCESSED)/$(1)/$(f).json)
$(PROCESSED)/%/run_summary.json: $$(call STAGE_SUMMARIES,$$*) $$(CONFIG_STAMP) pipelines/summary.py \
    $(COMMON) | $(VENV_STAMP)
	$(VIGIE) summary --config $(CFG) --site $* --processed-dir $(SITE_DIR) --out $(call q,$@)

MAP_CODE := pipelines/maps.py $(wildcard pipelines/_map_*.py) pipelines/_assets.py pipelines/_html.py \
    pipelines/charts_map.py pipelines/basemap.py pipelines/annotations.py $(wildcard pipelines/_annotation_*.py) $(wildcard pipelines/templates/*)
$(MAPS)/%.html $(MAPS)/%.png: $$(PROCESSED)/%/buildings.parquet $$(PROCESSED)/%/reports.parquet \
    $$(PROCESSED)/%/run_summary.json $$(PROCESSED)/%/basemap.parquet $$(PROCESSED)/%/kde.parquet \
    $$(PROCESSED)/%/chronic.csv $$(PROCESSED)/%/emerging.parquet $$(PROCESSED)/%/followup.csv \
    $$(PROCESSED)/%/zones.parquet $$(PROCESSED)/%/annotations.parquet $$(MAPS_STAMP) $(MAP_CODE) $(COMMON) \
    | $(VENV_STAMP) $(NODE_STAMP)
	$(VIGIE) map --config $(CFG) --site $* --processed-dir $(SITE_DIR) \
	  --out $(call q,$(RAW_MAPS)/$*.html)

$(MAPS)/index.html: $$(foreach s,$$(SITES),$$(MAPS)/$$(s).html $$(PROCESSED)/$$(s)/run_summary.json) \
    $$(MAPS_STAMP) pipelines/maps.py pipelines/_map_index.py pipelines/annotations.py \
    $(wildcard pipelines/_annotation_*.py) pipelines/_html.py $(wildcard pipelines/templates/*) \
    $(COMMON) | $(VENV_STAMP)
	$(VIGIE) index --config $(CFG) --out $(call q,$@)

screenshots/index.png: $$(MAPS)/index.html $$(foreach s,$$(SITES),$$(MAPS)/$$(s).html) \
    pipelines/screenshots.py | $(VENV_STAMP) $(BROWSER_STAMP)
	$(VIGIE) screenshots --maps-dir $(call q,$(RAW_MAPS)) --out-dir screenshots

# Intermediate files are real targets; keep them. Not with a bare `.SECONDARY:`, under
# which every target counts as intermediate and a missing configuration stamp (a new
# CONFIG=) would re-make nothing; .PRECIOUS must name each rule's target pattern exactly
# (a mere `%` does not keep them): add a new stage output here too.
PROCESSED_FILES := buildings_osm.parquet ingested.parquet rejected.csv outside_study_area.csv \
    ingest_summary.json reports.parquet geocode_summary.json buildings.parquet hex.parquet \
    kde.parquet kde_grid.parquet chronic.csv method_note.html method_note.md \
    hotspot_summary.json zones.parquet building_zones.csv zone_summary.json trends.parquet \
    trend_tests.parquet emerging.parquet before_after.parquet followup.csv backlog.csv \
    trend_summary.json charts/reports_by_category.png annotations.parquet annotations.geojson \
    annotations.csv annotation_summary.json basemap.parquet run_summary.json \
    report_history.csv buildings_summary.json basemap_summary.json
.PRECIOUS: $(foreach f,$(PROCESSED_FILES),$(PROCESSED)/%/$(f)) $(MAPS)/%.html $(MAPS)/%.png
