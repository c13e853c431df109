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
.PHONY: help demo test test-fast gen gen-check lint bench fmt clean schemathesis

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

# The two open-ended watches (WatchRoom, StreamNarrative) are left out: on a session that exists they
# stay open until the client leaves, and a fuzzer that reads whole responses can only time out on them.
# tests/e2e and tests/integration/gateway cover their routes and framing.
schemathesis: $(VENV)/.synced ## fuzz the running demo's REST door from its /openapi.json (no 5xx, responses and every NDJSON line match the schema)
	@$(VENV)/bin/tta-gateway demo --grpc-port 50591 --http-port 8591 --admin-port 9591 --keys .schemathesis-keys \
	    > .schemathesis-demo.log 2>&1 & \
	  pid=$$!; trap 'kill $$pid 2>/dev/null; wait $$pid 2>/dev/null' EXIT; \
	  for i in $$(seq 100); do curl -sf http://127.0.0.1:9591/readyz >/dev/null && break; sleep 0.2; done; \
	  token=$$($(VENV)/bin/tta-gateway token --key .schemathesis-keys/signing-key.pem --sub st_fuzz \
	    --role admin --role therapist --role service --ttl 3600); \
	  SCHEMATHESIS_HOOKS=tools.schemathesis_hooks PYTHONPATH=. $(VENV)/bin/schemathesis run \
	    http://127.0.0.1:8591/openapi.json --max-examples 25 --workers 2 -H "Authorization: Bearer $$token" \
	    --checks not_a_server_error,response_schema_conformance,ndjson_lines_conform \
	    --exclude-path-regex '/messages:watch$$|/narrative:stream$$'

clean: ## remove the virtualenvs
	rm -rf $(VENV) .tools
