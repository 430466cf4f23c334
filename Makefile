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

.DEFAULT_GOAL := help
.PHONY: help setup test lint download cube bench bench-aqi demo clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "torch==$(TORCH_VERSION)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	@touch $@

setup: $(BIN)/.installed ## Create .venv and install both packages with the dev tools

test: setup ## Run the fast test suite (CPU, offline, a few minutes)
	$(BIN)/python -m pytest -q

lint: setup ## Ruff and mypy
	$(BIN)/ruff check stimpute pipeline tests
	$(BIN)/mypy

download: setup ## Fetch a region-year's granules (REGION=txson YEAR=2022 SOURCE=earthdata|sample)
	SOURCE=$(SOURCE) $(BIN)/python -m pipeline download --region $(REGION) --year $(YEAR) --data $(DATA)

cube: download ## Build DATA/REGION/YEAR/cube.zarr from the downloaded granules
	$(BIN)/python -m pipeline cube --region $(REGION) --year $(YEAR) --data $(DATA)

bench: setup ## Benchmark on the twin, day and point protocols (BUDGET=small|full)
	$(BIN)/python -m stimpute.bench --dataset $(DATASET) --protocol day,point --budget $(BUDGET) --out $(OUT)/$(DATASET)-$(BUDGET).json

bench-aqi: setup ## AQI-36 benchmark with the standard protocol (BUDGET=small|full)
	$(BIN)/python -m stimpute.bench --dataset aqi36 --protocol native --budget $(BUDGET) --out $(OUT)/aqi36-$(BUDGET).json

demo: setup ## For now: the twin benchmark at the small budget, printed as a table
	$(BIN)/python -m stimpute.bench --dataset twin --protocol day,point --budget small --out $(OUT)/demo.json

clean: ## Remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
