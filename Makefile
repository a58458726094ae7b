# slant: `make serve`/`make demo` and `make test` each set up everything they need on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install demo serve test test-fast check train-default clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# The CPU build of torch (a CUDA build is several GB and this project runs on CPUs in CI).
	$(BIN)/python -m pip install -q torch==2.13.0 || $(BIN)/python -m pip install -q torch --index-url https://download.pytorch.org/whl/cpu
	$(BIN)/python -m pip install -q -e '.[train,dev]'
	rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

demo: install
	$(BIN)/slant demo

serve: install
	$(BIN)/slant serve

test: check
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

test-fast: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m "not slow"

check: install
	$(BIN)/ruff check model training service tests benchmarks
	$(BIN)/mypy

# Reproduces models/default (version 12): stage 1 (2 epochs, sampled mix), stage 2 (1 epoch, full
# mix), then three stage-3 runs from stage 2 (1 epoch each, target-aware [TGT] windows on slant's
# labelled news windows and contrast items, plus samples of the public sets): the version-4 mix,
# the version-5 mix and the version-10 mix (name swaps and VAST's synthetic neutrals). Their
# weights are averaged uniformly (training/soup.py: v4 and v5 half and half, which is version 5,
# then that 2/3 and v10 1/3) into version 10 (runs/soup-v10); stage 4, one more epoch from it on
# the fourth news-window batch (version 12); temperature and aggregator fitted on dev, then the
# leaning, hyperpartisan and loaded-language heads. About 75 + 18 + 18 + 21 + 16 + 5 + 9 + 14 min
# (3 h) on 2 CPU cores.
train-default: install
	$(BIN)/slant train --config training/configs/default.yaml --output runs/stage1
	$(BIN)/slant train --config training/configs/default-stage2.yaml --output runs/stage2
	$(BIN)/slant train --config training/configs/default-stage3-v4.yaml --output runs/stage3-v4
	$(BIN)/slant train --config training/configs/default-stage3-v5.yaml --output runs/stage3-v5
	$(BIN)/slant train --config training/configs/default-stage3.yaml --output runs/stage3-v10
	$(BIN)/python -m training.soup --old runs/stage3-v4 --new runs/stage3-v5 --alpha 0.5 --out runs/soup-v5
	$(BIN)/python -m training.soup --old runs/soup-v5 --new runs/stage3-v10 --alpha 0.6667 --out runs/soup-v10
	$(BIN)/slant train --config training/configs/default-stage3.yaml --output runs/soup-v10 --finalize-only
	# Version 12, the shipped model: one more epoch from version 10 (stage 4).
	$(BIN)/slant train --config training/configs/default-stage4.yaml --output runs/stage4
	mkdir -p models/default && cp runs/stage4/*.json runs/stage4/*.safetensors runs/stage4/README.md models/default/
	$(BIN)/slant fit-bias --model models/default --task leaning --train-rows 4000
	$(BIN)/slant fit-bias --model models/default --task hyperpartisan
	$(BIN)/slant fit-bias --model models/default --task loaded_language --out models/loaded-language-babe

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache runs
