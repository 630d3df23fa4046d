# Two entry points (see README): `make run` runs the whole DVC pipeline on the embedded
# simulated data; `make test` runs the test suite. Both bootstrap .venv on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# DVC stage commands call `preemergence`, so the venv's bin goes first on PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)
STAMP := $(VENV)/.installed

.PHONY: run test install install-gpu bench plots-offline ui-check exps clean-venv

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e .
	@touch $(STAMP)

install: $(STAMP)

# Optional: TensorFlow's GPU build instead of the CPU-only default (needs an NVIDIA GPU and
# its driver; CUDA and cuDNN come from PyPI). Everything else stays at the locked versions.
install-gpu: $(STAMP)
	$(BIN)/python -m pip uninstall --yes tensorflow-cpu
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[gpu]"
	$(BIN)/python -c "from preemergence.core import hardware; print(hardware.describe())"

run: $(STAMP)
	$(BIN)/dvc repro
	$(BIN)/dvc status

# Test modules spread over the CPU cores (pytest-xdist; at most 4 processes, each module's
# tests in one, so module fixtures are built once), the heaviest modules first
# (tests/conftest.py HEAVIEST_FIRST).
test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist loadscope --no-loadscope-reorder

# Experiments in under 120 columns: name, state, the parameters an experiment changed, the
# CNN's and the MTOT analysis's TSS at -3.2 h and the leakage guard's (%).
EXPS_DROP := Created|Executor|.*/.*|(pruned|abs_field)\..*|.*\.t-(?!03\.2h).*
EXPS_KEEP := cnn\.t-03\.2h|da_mtot\.t-03\.2h|leakage_guard_tss
exps: $(STAMP)
	$(BIN)/dvc exp show --no-pager --only-changed --drop '$(EXPS_DROP)' --keep '$(EXPS_KEEP)'

# The DVC plots of your last `make run` as PNGs, rendered offline (`dvc plots show` loads
# Vega from a CDN): reports/benchmarks/dvc_plots/<plot>.png and dvc_plots.md.
plots-offline: $(STAMP)
	$(BIN)/python -c "import vl_convert" 2>/dev/null || \
		$(BIN)/python -m pip install --quiet -c requirements.lock vl-convert-python
	$(BIN)/python benchmarks/dvc_plots_check.py

# The MLflow UI through `preemergence mlflow-ui`, in headless Chromium (Debian: apt-get install
# chromium), on a small train-cv store made from code: model-training view, TSS columns, name
# search listing child runs. Screenshots and summary.json in reports/benchmarks/mlflow_ui/fixture/.
ui-check: $(STAMP)
	$(BIN)/python benchmarks/mlflow_ui_check.py --fixture --out reports/benchmarks/mlflow_ui/fixture

# Self-contained benchmarks (benchmarks/scan.py and bench_bf16_tss.py need `make run` first).
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_data_pipeline.py
	$(BIN)/python benchmarks/bench_training.py
	$(BIN)/python benchmarks/bench_conv_kernels.py

clean-venv:
	rm -rf $(VENV)
