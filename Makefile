# tta-gateway: every target creates and uses .venv on first use (uv, locked by uv.lock).
# uv is used from PATH when present, else installed from PyPI into .tools/ at the pinned version.

PYTHON      ?= python3
UV_VERSION  := 0.13.9
BUF_VERSION := 1.75.0
BUF         := npx --yes @bufbuild/buf@$(BUF_VERSION)
VENV        := .venv
PY          := $(VENV)/bin/python
UV          := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)

.DEFAULT_GOAL := help
.PHONY: help demo test test-fast gen gen-check lint bench fmt clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	UV_PYTHON=$(PYTHON) $(UV) sync --frozen --extra dev --quiet
	@touch $@

demo: $(VENV)/.synced ## run the gateway with every reference TTA service (gRPC :50051, HTTP :8080)
	$(VENV)/bin/tta-gateway demo

test: $(VENV)/.synced ## run the whole test suite (unit, integration with real servers and Redis, e2e)
	$(PY) -m pytest

gen: $(VENV)/.synced ## regenerate gen/ from proto/
	$(PY) tools/gen.py

gen-check: $(VENV)/.synced ## fail when gen/ is stale
	$(PY) tools/gen.py --check

lint: $(VENV)/.synced ## buf lint + breaking, ruff, mypy --strict, gen/ freshness
	$(BUF) lint
	@if git rev-parse --verify --quiet main >/dev/null; then $(BUF) breaking --against '.git#branch=main'; \
	  else echo "buf breaking: no main branch to compare with, skipped"; fi
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) tools/gen.py --check

fmt: $(VENV)/.synced ## format and autofix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(VENV)/.synced ## benchmarks: gateway beside direct calls, printed as ratios
	$(PY) -m bench

clean: ## remove the virtualenvs
	rm -rf $(VENV) .tools
