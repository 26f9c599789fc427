# The two commands of the README. Both build .venv when it is missing or stale.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
# torch's OpenMP threads busy-wait by default; on a shared 2-core machine that
# makes small models 10-100x slower. Passive waiting costs nothing when alone.
export OMP_WAIT_POLICY := PASSIVE

.PHONY: demo test lint env clean

env: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[notebooks,federated,device,scale,dev]'
	$(BIN)/python -m ipykernel install --prefix $(VENV) --name python3 >/dev/null
	touch $(STAMP)

# The main job: the privacy-utility report of mini-world user 0 on the bundled zoo,
# its runs on WORKERS processes (0: one per core; torch threads split between them).
WORKERS ?= 0
demo: $(STAMP)
	$(BIN)/spinml report notebooks/02_privacy_utility_report.ipynb --quiet --workers $(WORKERS)

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider --durations=15

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info

.PHONY: browser-deps
# Headless Chromium and its WebDriver from Debian, for tests/browser (CI runs it as root).
browser-deps:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then \
		echo "browser-deps: chromium and chromedriver are installed"; \
	else \
		sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$sudo apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q --no-install-recommends \
			chromium chromium-driver; \
	fi
