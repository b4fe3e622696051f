# Two commands on a fresh machine (Python 3.10 or newer):
#   make demo   a .venv with CPU torch and what the pack needs, then generate with every provider and
#               edit with a mask, against the bundled emulator
#   make test   the same .venv plus the test tools, then the whole test suite twice: on today's
#               clock, and with the machine's clock 400 days ahead (what CI runs)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0
# The CPU build: an unpinned torch, or PyPI's Linux build, pulls gigabytes of CUDA packages.
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu
# In ComfyUI these come with ComfyUI itself; requirements.txt lists only what the pack adds.
COMFYUI_PROVIDES := numpy pillow

.PHONY: demo test clean

demo: $(VENV)/.demo-installed
	$(BIN)/python -m nodes.cli.demo --emulator-only

test: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PYTHONDONTWRITEBYTECODE=1 $(BIN)/python -m pytest tests
	@echo "--- the suite again, with the machine's clock 400 days ahead (nothing may depend on the day it runs)"
	PYTHONDONTWRITEBYTECODE=1 HOSTED_IMAGES_TEST_CLOCK_AHEAD_DAYS=400 $(BIN)/python -m pytest tests

# CPU torch: from what pip's own configuration offers (e.g. a local wheel via find-links) when that
# is a +cpu build, else from PyTorch's CPU index. The dry run reads metadata only, no wheel.
$(VENV)/.torch-installed:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	if $(BIN)/python -m pip install --quiet --dry-run --no-deps --ignore-installed \
	        --report $(VENV)/torch-resolved.json "$(TORCH)" \
	    && $(BIN)/python -c 'import json, sys; v = json.load(open(sys.argv[1]))["install"][0]["metadata"]["version"]; sys.exit(not v.endswith("+cpu"))' \
	        $(VENV)/torch-resolved.json; then \
	    $(BIN)/python -m pip install --quiet "$(TORCH)"; \
	else \
	    $(BIN)/python -m pip install --quiet "$(TORCH)" --index-url $(TORCH_CPU_INDEX); \
	fi
	$(BIN)/python -W ignore -c 'import torch; assert torch.version.cuda is None, f"torch {torch.__version__} is a CUDA build"; print(f"torch {torch.__version__}, CPU build")'
	touch $@

$(VENV)/.demo-installed: $(VENV)/.torch-installed requirements.txt
	$(BIN)/python -m pip install --quiet -r requirements.txt $(COMFYUI_PROVIDES)
	touch $@

$(VENV)/.test-installed: $(VENV)/.demo-installed tests/requirements.txt
	$(BIN)/python -m pip install --quiet -r tests/requirements.txt
	touch $@

clean:
	rm -rf $(VENV)
