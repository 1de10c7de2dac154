# The two commands a user needs:  make lab-up   and   make test  (make test-full in CI)
# Both set up a fresh Debian machine themselves (venv, Docker engine, Compose,
# base image, client tools).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
LAB    := $(VENV)/bin/lab
STAMP  := $(VENV)/.installed

.PHONY: help venv test-venv tools test-tools host base-image lab-host lab-up lab-started lab-down status check lint \
        unit trial integration integration-slow test test-full bench soak soak-minute clean

help:
	@echo "make lab-up     bring the lab up (installs what is missing) and check it works"
	@echo "make lab-down   remove the lab's containers, network and volumes"
	@echo "make test       lint + unit + trial + integration tests (brings the lab up)"
	@echo "make test-full  make test, plus the slow proofs (second engine, wheel in a venv)"
	@echo "make bench      benchmarks"
	@echo "make soak       an hour of mixed traffic and faults against the lab (SOAK_MINUTES=60)"

STEP   := tools/step

# Python compiles what it imports once, into __pycache__: a PYTHONDONTWRITEBYTECODE from
# the caller's environment would have every lab command compile it all again (~0.1 s each).
unexport PYTHONDONTWRITEBYTECODE

# What the lab needs (`make lab-up`), then what only the tests use (pytest, the clients
# nobody here wrote, ruff...): a fresh machine's `make lab-up` does not wait for those.
# Niced, without compiling every module ahead (Python compiles what it imports, once):
# on a fresh machine the base image beside it is what `lab up` waits for.
$(STAMP): pyproject.toml
	@$(STEP) "1/5 Python venv ($(VENV))" nice -n 10 sh -c "$(PYTHON) -m venv $(VENV) && \
	    $(VENV)/bin/pip uninstall -y lab && $(VENV)/bin/pip install --no-compile -e ."
	@touch $@

TEST_STAMP := $(VENV)/.installed-test
# An extra's own requirements (read from pyproject.toml), into the venv: lab's own install
# is left alone, as a `lab` command may be running from it meanwhile.
install_extra = sh -c "$(PY) -c 'import tomllib; print(*tomllib.load(open(\"pyproject.toml\", \"rb\"))[\"project\"][\"optional-dependencies\"][\"$(1)\"], sep=\"\\n\")' | xargs $(VENV)/bin/pip install"

$(TEST_STAMP): $(STAMP)
	@$(STEP) "the test suite's Python packages" $(call install_extra,test)
	@touch $@

venv: $(STAMP)
test-venv: $(TEST_STAMP)

KRB_STAMP := $(VENV)/.kerberos

# The host's part (lab.host) runs on the system's python3: it needs nothing of the venv,
# so `make lab-up` runs it beside the venv's pip. Docker engine, Compose and the lab's
# client tools; the test suite's clients (and libkrb5-dev for the Kerberos build) apart,
# so `make lab-up` never waits for them.
HOST := $(PYTHON) -m lab.host
tools:
	@$(HOST) --tools

NODE_CLIENTS := tests/integration/clients/node
test-tools:
	@$(HOST) --test-tools
	@$(MAKE) --no-print-directory $(NODE_CLIENTS)/node_modules/.installed

# Node's proxy-agent, for the Node client the suite and docs/clients.md run (npm's registry)
$(NODE_CLIENTS)/node_modules/.installed: $(NODE_CLIENTS)/package-lock.json
	@$(STEP) "Node clients (npm ci)" npm ci --prefix $(NODE_CLIENTS) --no-audit --no-fund
	@touch $@

# Then the base image and the Kerberos bindings' source build, side by side.
host: tools test-tools test-venv
	@$(MAKE) --no-print-directory -j2 base-image $(KRB_STAMP)

base-image:
	@$(HOST) --base-image

# The engine, Compose, the lab's clients and the base image, in one process: when the
# base image must be made (no registry), mmdebstrap runs beside apt.
lab-host:
	@$(HOST) --tools --base-image

# After `lab.host --test-tools` has installed libkrb5-dev: gssapi/krb5 build from source.
$(KRB_STAMP): $(STAMP)
	@$(STEP) "4/5 Kerberos bindings (gssapi, krb5: a source build)" $(call install_extra,kerberos)
	@touch $@

# The lab does not need the Kerberos bindings (only the tests' Twisted Negotiate
# client does): `make lab-up` leaves their ~2.5-minute source build to `make test`. The
# venv (pip, from PyPI) and the host's part (apt and mmdebstrap, from Debian's mirror)
# side by side: neither needs the other.
lab-up:
	@$(MAKE) --no-print-directory -j2 venv lab-host
	@$(MAKE) --no-print-directory lab-started

lab-started: venv
	@echo "lab: [5/5 lab up] ..." >&2
	$(LAB) up --check

lab-down: venv
	$(LAB) down

status: venv
	$(LAB) status

lint: test-venv
	$(VENV)/bin/ruff check lab tests bench harness examples
	@$(STEP) "import layers (pyproject.toml [tool.importlinter])" $(VENV)/bin/lint-imports --no-cache

# Unit tests: no Docker needed (real curl, though).
unit: test-tools test-venv
	$(VENV)/bin/pytest tests --ignore=tests/integration --ignore=tests/trial -q -n 2

# trial and pytest-twisted must not share a process (pytest-twisted #93, #147).
trial: test-venv
	$(PY) -m twisted.trial tests.trial

# Against the shared lab in two phases: xdist workers for what only reads it (a file's
# tests stay on one worker; four workers on two cores, as most of their time is spent
# waiting on containers), then, alone, what changes it (`exclusive`: faults, a paused
# DC: one test at a time, mostly waiting) beside what never touches it (`private_lab`:
# labs of their own, mostly CPU), so those two overlap. `slow` proofs: make test-full.
XDIST := -n 4 --dist loadfile
integration: host
	$(LAB) up
	$(PY) -m twisted.trial tests.integration.trial
	$(VENV)/bin/pytest tests/integration -q $(XDIST) -m "not exclusive and not slow and not private_lab"
	$(PY) -m harness.together \
	    exclusive='$(VENV)/bin/pytest tests/integration -q -m "exclusive and not slow"' \
	    private-labs='$(VENV)/bin/pytest tests/integration -q -n 2 --dist loadfile -m "private_lab and not slow"'

# One at a time: most start private labs (two at once on purpose in test_two_projects),
# and four such starts beside forty-client matrices on two cores missed health bounds.
integration-slow: host
	$(LAB) up
	$(VENV)/bin/pytest tests/integration -q -m "slow"

test: lint unit trial integration

# An hour (SOAK_MINUTES) of traffic from curl, requests, httpx and lab fetch across every
# port while faults come and go; errors, memory and descriptors in soak-report.json.
SOAK_MINUTES ?= 60
soak: host
	$(LAB) up
	$(PY) -m bench.soak --minutes $(SOAK_MINUTES)

# make test-full's minute of it: no unexpected error, descriptors back where they were.
soak-minute: host
	$(LAB) up
	$(PY) -m bench.soak --minutes 1 --report $(VENV)/soak-minute.json

test-full: test integration-slow soak-minute

bench: host
	$(PY) -m bench

clean:
	rm -rf $(VENV) *.egg-info _trial_temp
