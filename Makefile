# stimpute: soil-moisture gap filling with a spatiotemporal transformer.
# `make help` lists the targets. Everything installs itself into .venv on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Torch is pinned here, not in pyproject: `pip install torch==2.13.0` takes the CPU build
# from this workplace's local wheel cache in seconds, while an unpinned torch (or one pulled
# in by a dependency) downloads a multi-GB CUDA build. On a GPU machine the same pin from
# PyPI is the CUDA build. On a CPU-only machine elsewhere, set
#   TORCH_INDEX=https://download.pytorch.org/whl/cpu
# to get the small CPU wheel instead of the CUDA one.
TORCH_VERSION ?= 2.13.0
TORCH_INDEX   ?=
BUDGET  ?= small
DATASET ?= twin
OUT     ?= benchmarks/results
REGION  ?= txson
YEAR    ?= 2022
SOURCE  ?= earthdata
DATA    ?= data
YEARS   ?= 2016-2021
CRS     ?=
DEVICE  ?= auto
SCHEDULER ?=
WORKERS ?=
SCALE_REGIONS ?= txson,central_texas,texas_360,texas_720,texas
NIGHTLY_REGION ?= central_texas
TRAIN_BUDGET ?=
CLUSTER_ARGS = $(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(if $(WORKERS),--workers $(WORKERS))
# the Make variables become the command's flags (its own environment variables are STIMPUTE_*)
RUN_ARGS = --source $(SOURCE) --device $(DEVICE) $(if $(CRS),--crs $(CRS)) $(if $(TRAIN_BUDGET),--budget $(TRAIN_BUDGET))

.DEFAULT_GOAL := help
.PHONY: help setup test lint qgis-check download cube tile status fill train notebooks bench bench-ablation bench-aqi bench-field bench-twin-field bench-sparsity bench-scale bench-crash bench-nightly bench-all demo clean


##@ Start here

demo: setup ## The whole pipeline offline on the sample: txson 2022 -> DATA/txson/2022/export/
	$(BIN)/python -m pipeline fill --region txson --year 2022 --source sample --data $(DATA) --device $(DEVICE)

fill: setup ## Download, cube, tile, fill, export a region-year (REGION=texas YEAR=2022 [SOURCE=sample] [CRS=EPSG:4326] [SCHEDULER=tcp://host:8786] [WORKERS=n] [TRAIN_BUDGET=s])
	$(BIN)/python -m pipeline fill --region $(REGION) --year $(YEAR) --data $(DATA) $(RUN_ARGS) $(CLUSTER_ARGS)

train: setup ## Train a region checkpoint on past years (REGION=texas YEARS=2016-2021); fill uses it
	$(BIN)/python -m pipeline train --region $(REGION) --years $(YEARS) --data $(DATA) --source $(SOURCE) --device $(DEVICE) $(if $(TRAIN_BUDGET),--budget $(TRAIN_BUDGET))


##@ Stages, one at a time

download: setup ## Only fetch a region-year's granules (REGION=txson YEAR=2022 SOURCE=earthdata|sample)
	$(BIN)/python -m pipeline download --region $(REGION) --year $(YEAR) --data $(DATA) --source $(SOURCE)

cube: download ## Only build DATA/REGION/YEAR/cube.zarr from the downloaded granules
	$(BIN)/python -m pipeline cube --region $(REGION) --year $(YEAR) --data $(DATA)

tile: cube ## Only cut DATA/REGION/YEAR/tiles.parquet
	$(BIN)/python -m pipeline tile --region $(REGION) --year $(YEAR) --data $(DATA)

status: setup ## Per stage: current, stale (why) or missing, and the last run (REGION YEAR)
	$(BIN)/python -m pipeline status --region $(REGION) --year $(YEAR) --data $(DATA)

notebooks: demo ## Run notebooks/ top to bottom on the demo outputs
	STIMPUTE_DATA=$(abspath $(DATA)) $(BIN)/python -m tests.notebooks notebooks/*.ipynb


##@ Development

setup: $(BIN)/.installed ## Create .venv and install both packages with the dev tools

test: setup ## Run the fast test suite (CPU, offline, a few minutes)
	$(BIN)/python -m pytest -q

lint: setup ## Ruff and mypy
	$(BIN)/ruff check stimpute pipeline tests benchmarks
	$(BIN)/mypy

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
qgis-check: setup ## Install QGIS (Debian's python3-qgis) and open the sample's QGIS project in it
	@/usr/bin/python3 -c "import qgis.core" 2>/dev/null || $(SUDO) apt-get install -y python3-qgis
	$(BIN)/python -m pytest -q tests/pipeline/test_export_standards.py -k qgis -rs

clean: ## Remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache

help: ## List the targets, grouped
	@awk 'BEGIN {FS = ":.*## "} /^##@ / {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z_-]+:.*## / {printf "  make %-17s %s\n", $$1, $$2}' $(MAKEFILE_LIST)


##@ Benchmarks

bench: setup ## Benchmark on the twin, day and point protocols (BUDGET=small|full)
	$(BIN)/python -m stimpute.bench --dataset $(DATASET) --protocol day,point --budget $(BUDGET) --out $(OUT)/$(DATASET)-$(BUDGET).json

bench-aqi: setup ## AQI-36 benchmark with the standard protocol (BUDGET=small|full)
	$(BIN)/python -m stimpute.bench --dataset aqi36 --protocol native --budget $(BUDGET) --out $(OUT)/aqi36-$(BUDGET).json

bench-field: $(BIN)/.peers ## AQI-36: ST-Transformer and PSAN over 5 seeds beside PyPOTS peers and baselines
	$(BIN)/python -m stimpute.bench --dataset aqi36 --protocol native --budget $(BUDGET) --seeds 0,1,2,3,4 \
		--models st_transformer,psan,saits,brits,imputeformer,linear,dctpls --out $(OUT)/aqi36-field-$(BUDGET).json

TWIN_FIELD := st_transformer,psan,saits,brits,imputeformer,mean,linear,neighbours,dctpls,mice,random_forest

bench-twin-field: $(BIN)/.peers ## Twin, day/point/block: ours, PyPOTS peers and baselines side by side (~100 min on 2 cores)
	$(BIN)/python -m stimpute.bench --dataset twin --protocol day,point,block --budget $(BUDGET) \
		--models $(TWIN_FIELD) --out $(OUT)/twin-field-$(BUDGET).json

SPARSITY_BUDGET ?= 120

bench-sparsity: $(BIN)/.peers ## Twin sparsity curve (observed 50/25/10/5%), all models, SPARSITY_BUDGET s per neural fit
	$(BIN)/python -m stimpute.bench --dataset twin --sparsity 0.5,0.25,0.1,0.05 --budget $(BUDGET) \
		--time-budget $(SPARSITY_BUDGET) --no-throughput --models $(TWIN_FIELD) --out $(OUT)/twin-sparsity-$(BUDGET).json

bench-scale: setup ## Cost per stage against area on the sample, txson to Texas (SCALE_REGIONS=...; the Texas row takes hours on 2 cores)
	$(BIN)/python benchmarks/scale.py --regions $(SCALE_REGIONS) --data $(DATA)/bench-scale --out $(OUT)/scale

bench-ablation: setup ## The paper's network, each add-on alone, all: both twin families (day, block, 5 seeds) and AQI-36 (3 seeds; about 15 h on 2 cores; RESUME=1 continues)
	$(BIN)/python benchmarks/ablation.py --out $(OUT)/ablation $(if $(RESUME),--resume)

bench-nightly: setup ## What a scheduled night redoes, against the full run (NIGHTLY_REGION=central_texas: the complete year and the year in progress)
	$(BIN)/python benchmarks/nightly.py --region $(NIGHTLY_REGION) --data $(DATA)/bench-nightly --out $(OUT)/nightly

bench-crash: setup ## Kill the sample chain with SIGKILL at N moments (N=50), rerun, compare with an uninterrupted run
	$(BIN)/python benchmarks/crash.py --kills $(or $(N),50) --work $(DATA)/bench-crash --out $(OUT)/crash

bench-all: bench bench-aqi bench-field bench-twin-field bench-sparsity ## Every table and plot in benchmarks/results/ (about 5 h on 2 cores)


# internal
$(BIN)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "torch==$(TORCH_VERSION)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	@touch $@

$(BIN)/.peers: $(BIN)/.installed
	$(BIN)/pip install --quiet -e ".[peers]"
	@touch $@
