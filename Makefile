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
# -q: the stages say nothing but warnings; `make demo Q=` shows their messages and the
# progress of the long steps (plain lines, make being no terminal).
Q         ?= -q
VIGIE     := $(PY) -m pipelines $(Q)
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
ACTIONS         := data/actions
RAW_ACTIONS     := data/actions

VENV_STAMP    := $(VENV)/.installed
NODE_STAMP    := node_modules/.package-lock.json
BROWSER_STAMP := $(STAMPS)/browser

# Code every stage depends on: the shared modules; each stage adds its folders
# (pipelines/stages.py).
COMMON := $(wildcard pipelines/*.py) $(wildcard pipelines/config/*.py) $(wildcard pipelines/cli/*.py)

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

## demo: installe puis produit toutes les cartes, les dossiers de comité (maps/index.html) et les GeoPackage QGIS
.PHONY: demo
demo: $$(MAPS)/index.html $$(GPKGS)
	@echo "Cartes prêtes :" $(call q,$(RAW_MAPS)/index.html)

## portfolio: exemple de portefeuille (config/demo_portfolio.toml) : Paris 10e et Bondy Nord en résidences RPLS, un seul export réparti, sites en parallèle (Dask), index = page du portefeuille
# The shared export is the simulated one of the demo's Bondy site (made with the default
# configuration); `make CONFIG=config/demo_portfolio.toml demo` builds the same sites
# through make's per-site rules instead (make -j), `vigie run` through Dask. The smallest
# example, the tests' one: `make PORTFOLIO_CONFIG=config/portfolio.toml portfolio`.
PORTFOLIO_CONFIG ?= config/demo_portfolio.toml
.PHONY: portfolio
portfolio: $(VENV_STAMP) $(NODE_STAMP) $(BROWSER_STAMP)
	$(MAKE) CONFIG=config/demo.toml simulate
	$(MAKE) CONFIG=$(call q,$(PORTFOLIO_CONFIG)) secrets
	$(VIGIE) run --config $(call q,$(PORTFOLIO_CONFIG))

## qgis: GeoPackage stylé de chaque site pour QGIS (data/processed/<site>/vigie_<site>.gpkg)
.PHONY: qgis
qgis: $$(GPKGS)
	@echo "GeoPackage prêts :" $(foreach s,$(SITES),$(call q,$(RAW_PROCESSED)/$(s)/vigie_$(s).gpkg))

## setup: installe tout (.venv, Node/npm et fichiers Leaflet, Chromium) sans rien lancer
.PHONY: setup
setup: $(VENV_STAMP) $(NODE_STAMP) $(BROWSER_STAMP)

## test: installe puis lance toute la suite de tests (navigateur compris), sur plusieurs processus
# The suite runs on TEST_WORKERS processes (pytest-xdist): one per CPU this process may
# use (nproc reads the affinity mask), at most 4. More gains little: a module runs on one
# process, and the longest (tests/test_make.py: `make demo` in a copy, then what it checks
# on that build) takes minutes by itself; and every process holds its own Chromium and data.
# --dist loadscope: the tests of a module run on one process, in their order, so that a
# module-scoped fixture (a copy of the project, a run of the CLI) is made once, and a test
# that starts from the build of the one before (tests/test_make.py) finds it. The demo
# run shared by many modules is made once for all processes (tests/conftest.py,
# built_once). --no-loadscope-reorder: the modules go out in the order tests/conftest.py
# gives them (the longest first), not by their number of tests. `make test TEST_WORKERS=0`
# runs the suite in one process, as `pytest` alone does. --durations=25: the slowest tests
# are named at the end of every run (CI's log included), the suite's budget being 15 min.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); echo $$(( n < 4 ? n : 4 )))
.PHONY: test
test: $(VENV_STAMP) $(NODE_STAMP) $(BROWSER_STAMP) $(SIMULATED_bondy) secrets
	$(call BYTECODE,pipelines tests bench)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder --durations=25

## test-fast: tests unitaires seulement (ni navigateur, ni passage de bout en bout)
.PHONY: test-fast
test-fast: $(VENV_STAMP) $(NODE_STAMP) $(SIMULATED_bondy) secrets
	$(PY) -m pytest -m "not browser and not slow and not heavy"

## attack: l'attaquant par programmation linéaire en nombres entiers sur les packs publiés, y compris le pack public de Bondy (plus de 10 min, hors de make test)
.PHONY: attack
attack: $(VENV_STAMP) $(NODE_STAMP) $(SIMULATED_bondy) secrets
	$(PY) -m pytest -m "heavy or not heavy" tests/test_publication.py -k attacker

## secrets: crée le secret de chaque site qui n'en a pas (data/secrets/<site>.key, hors dépôt)
# The secret keys the households of the reports (pipelines/ingest/household.py); `make demo`
# makes it before ingestion. It is never remade: keep it, back it up, never share it.
.PHONY: secrets
secrets: $(foreach s,$(SITES),$(SECRET_$(s)))

## ledger-reset: archive le registre des périodes publiées d'un site (SITE=bondy, PROFILE=comite par défaut), seulement quand d'autres données ou une autre règle remplacent délibérément celles déjà publiées
# The publish stage stops (French message) when the ledger does not match the data; the
# ledger is moved to <ledger_dir>/<site>/archive/, never deleted (pipelines/publish/ledger.py).
.PHONY: ledger-reset
ledger-reset: $(VENV_STAMP)
	@test -n "$(SITE)" || { echo "ledger-reset : donnez le site, par exemple SITE=bondy"; exit 2; }
	$(VIGIE) ledger-reset --config $(CFG) --site $(call q,$(SITE)) $(if $(PROFILE),--profile $(call q,$(PROFILE)))

## simulate: (ré)écrit les signalements simulés de Bondy dans data/raw/bondy/
.PHONY: simulate
simulate: $(SIMULATED_bondy)

## actions-template: écrit le modèle du registre des actions (XLSX, CSV) dans le dossier de chaque site, sans rien écraser
# Written into the register folder (an input, made by hand afterwards): a friendly alias,
# not a file rule; `vigie actions-template` never overwrites a register.
.PHONY: actions-template
actions-template: $(VENV_STAMP)
	$(VIGIE) actions-template --config $(CFG)

## screenshots: captures PNG de chaque carte et de l'index dans screenshots/ (Chromium)
.PHONY: screenshots
screenshots: screenshots/index.png

## lint: contrôle du code (ruff, format, mypy ; ESLint pour le JavaScript des cartes)
.PHONY: lint
lint: $(VENV_STAMP) $(NODE_STAMP)
	$(VENV)/bin/ruff check pipelines tests bench
	$(VENV)/bin/ruff format --check pipelines tests bench
	$(VENV)/bin/mypy pipelines
	node_modules/.bin/eslint --max-warnings 0 pipelines

## format: met en forme le code (ruff)
.PHONY: format
format: $(VENV_STAMP)
	$(VENV)/bin/ruff format pipelines tests bench
	$(VENV)/bin/ruff check --fix pipelines tests bench

## bench: mesures de vitesse et de mémoire sur une ville synthétique
# The portfolio bench tiles the simulated Bondy export (data/raw/bondy/, made by the demo
# configuration's `simulate`): made first, so that `make bench` works from a fresh clone.
.PHONY: bench
bench: $(VENV_STAMP) $(NODE_STAMP) $(BROWSER_STAMP)
	$(MAKE) CONFIG=config/demo.toml simulate
	$(PY) -m bench

## clean: efface tout ce qui a été produit (données traitées, cartes, données simulées)
# Also the temporary files that a killed run leaves beside its outputs (pipelines/io.py
# writes `.<name>.<random>.tmp` in the destination folder, then renames it). The notes and
# their archive (annotations_dir/.archive) stay; only stray temporary files go from there.
.PHONY: clean
clean:
	rm -rf data/processed/* maps/*.html maps/*.png maps/*.pdf maps/*/ build screenshots
	rm -rf $(foreach s,$(SITES),$(call q,$(RAW_PROCESSED)/$(s)) $(call q,$(RAW_MAPS)/$(s)).html \
	    $(call q,$(RAW_MAPS)/$(s)).png $(call q,$(RAW_MAPS)/$(s))_comite.html \
	    $(call q,$(RAW_MAPS)/$(s))_comite.pdf $(call q,$(RAW_MAPS)/$(s))) \
	    $(call q,$(RAW_MAPS))/index.html $(call q,$(RAW_MAPS)/public)
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
# Bytecode: pip installs without compiling (--no-compile), then BYTECODE compiles the
# environment and Vigie's code on every CPU. Python would compile a module when it first
# imports it and keep the result, but not where PYTHONDONTWRITEBYTECODE is set (as on
# this project's machines): every process then compiled pandas & co again, and each
# `vigie stage` paid it (import of pandas 2.7 s -> 0.85 s, of the CLI 3.6 s -> 1.2 s,
# `make test` about 20 min -> see the closing note of session 15). compileall writes
# whatever that variable says, and only what is missing or stale. SITE_PACKAGES is shell
# text, run when the recipe runs: make expands a recipe before the venv exists.
BYTECODE = $(PY) -m compileall -q -j 0 $(1) > /dev/null
SITE_PACKAGES = "$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
$(VENV_STAMP): requirements.lock pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 introuvable"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-compile -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(call BYTECODE,$(SITE_PACKAGES) pipelines)
	touch $@

## lock: recalcule requirements.lock (versions exactes) depuis les bornes de pyproject.toml, l'installe et lance tests/test_foundation.py
# The new lock is installed and tests/test_foundation.py run on it: pipelines/io.py reads
# GeoParquet through geopandas' private conversion (falling back on the public reader
# when an upgrade removes it), and an upgrade that changes what either gives fails there.
# A failure leaves the new lock in place and installed: `git checkout requirements.lock`
# then `make setup` go back to the old one.
.PHONY: lock
lock: $(VENV_STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check pip-tools
	$(VENV)/bin/pip-compile --quiet --upgrade --extra dev --strip-extras --no-emit-index-url \
	  --no-emit-find-links --output-file requirements.lock pyproject.toml
	$(PY) -m pip install --quiet --disable-pip-version-check --no-compile -r requirements.lock
	$(call BYTECODE,$(SITE_PACKAGES))
	touch $(VENV_STAMP)
	$(PY) -m pytest -q tests/test_foundation.py

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
$(DEPS): $(wildcard pipelines/config/*.py) pipelines/stages.py | $(VENV_STAMP)
	+$(VIGIE) deps --config $(call q,$(CONFIG)) --out $@
endif

# An explicit rule, not a pattern one: a missing file made only by a pattern rule would be
# "intermediate", and make does not re-make a target for a missing intermediate file.
$(CONFIG_STAMP) $(MAPS_STAMP):
	mkdir -p "$$(dirname $(call q,$@))"
	rm -f "$$(dirname $(call q,$@))"/.vigie-config-*
	printf 'configuration : %s\nsha256 : %s\n' $(call q,$(CONFIG)) $(CONFIG_KEY) > $(call q,$@)

# ---------------------------------------------------------------- per-site stages
# The rules of every per-site stage (targets, inputs, code folders, recipe) are generated
# from the stage table, pipelines/stages.py, into $(DEPS) above; `vigie run` reads the
# same table. Only the project-wide targets are written here.

# Each site's GeoPackage for QGIS (stage "gpkg", one explicit rule per site in $(DEPS)).
GPKGS = $(foreach s,$(SITES),$(PROCESSED)/$(s)/vigie_$(s).gpkg)

# In a recipe: the site's processed folder, and the configuration, as shell words.
SITE_DIR = $(call q,$(RAW_PROCESSED)/$*)
CFG      = $(call q,$(CONFIG))

# INDEX_INPUTS (from pipelines/stages.py's INDEX_READS, through $(DEPS)): every file the
# index reads or links, each site's map, pack, pages and charts under $(MAPS)/<site>/
# included, so that a deleted one is made again.
$(MAPS)/index.html: $$(INDEX_INPUTS) $$(MAPS_STAMP) $(wildcard pipelines/maps/*.py) $(wildcard pipelines/templates/*.*) $(COMMON) \
    | $(VENV_STAMP)
	$(VIGIE) index --config $(CFG) --out $(call q,$@)

screenshots/index.png: $$(MAPS)/index.html $$(foreach s,$$(SITES),$$(MAPS)/$$(s).html) \
    pipelines/maps/screenshots.py | $(VENV_STAMP) $(BROWSER_STAMP)
	$(VIGIE) screenshots --maps-dir $(call q,$(RAW_MAPS)) --out-dir screenshots

# Intermediate files are real targets; keep them. Not with a bare `.SECONDARY:`, under
# which every target counts as intermediate and a missing configuration stamp (a new
# CONFIG=) would re-make nothing; .PRECIOUS must name each rule's target pattern exactly
# (a mere `%` does not keep them); PROCESSED_FILES comes from the stage table.
.PRECIOUS: $(foreach f,$(PROCESSED_FILES),$(PROCESSED)/%/$(f)) $(MAPS)/%.html $(MAPS)/%.png \
    $(MAPS)/%.pdf

## public: paquet « données ouvertes » (profil public) : cartes, CSV, GeoPackage, graphiques et index dans maps/public/
.PHONY: public
public: $$(foreach s,$$(SITES),$$(MAPS)/public/$$(s).html)
	@echo "Paquet public prêt :" $(call q,$(RAW_MAPS)/public/index.html)
