# Two entry points, both self-installing into .venv at the project root:
#   make demo   - the SDK on the bundled sample photo (base install: runtimes only, no torch)
#   make test   - the test suite (full install: training + export stack)
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install -q -c constraints.txt
PYTEST_ARGS ?=

.PHONY: demo test test-mobile bench-faces venv-sdk venv-all face-models clean train-default table5

$(BIN)/python:
	@$(PY) -m venv $(VENV)
	@$(BIN)/pip install -q --upgrade pip "setuptools>=77" wheel

$(VENV)/.sdk-installed: $(BIN)/python pyproject.toml setup.py constraints.txt
	@PYTHONWARNINGS=ignore $(PIP) -e .
	@touch $@

$(VENV)/.all-installed: $(BIN)/python pyproject.toml setup.py constraints.txt
	$(PIP) torch==2.13.0
	$(PIP) -e ".[all,dev]"
	touch $@ $(VENV)/.sdk-installed

venv-sdk: $(VENV)/.sdk-installed
venv-all: $(VENV)/.all-installed

face-models: venv-sdk
	@$(BIN)/lrdif-setup

demo: face-models
	@$(BIN)/lrdif-predict --sample --out sample_annotated.png

test: venv-all face-models
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	bash android_demo/core-test.sh
	bash ios_demo/core-test.sh

# The mobile demo cores alone (Kotlin: kotlinc from npm + JUnit 4; Swift: swiftlang in a Debian 13 root)
test-mobile: venv-all face-models
	bash android_demo/core-test.sh
	bash ios_demo/core-test.sh

# Face detection at every distance / aspect, the pasted-face check, long-run soak (issue 16)
bench-faces: venv-all face-models
	$(BIN)/python -m benchmarks.face_size
	$(BIN)/python -m benchmarks.pasted_faces
	$(BIN)/python -m benchmarks.group_photo
	$(BIN)/python -m benchmarks.detector_latency
	$(BIN)/python -m benchmarks.soak

clean:
	rm -rf $(VENV) build dist *.egg-info

# Reproduce the shipped default model (data, both stages + ablation, evals, card, SDK export):
# about 1 h on an idle 2-core CPU. See training/reproduce_default.sh.
train-default: venv-all face-models
	bash training/reproduce_default.sh all

# Table 5 (diffusion vs no diffusion) on seeds 1 and 2 at 3 stage-2 epochs, mean and spread:
# about 1.5 h on a 2-core CPU. See training/reproduce_table5.sh.
table5: venv-all face-models
	bash training/reproduce_table5.sh
