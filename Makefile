# The two commands of the README: `make run` and `make test`. Both set up everything they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint typecheck unit bench bench-compare debs venv image image-test clean avionics-corpus avionics-goldens \
	modem-goldens

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(STAMP)

# Debian packages the tests use: Chromium (browser tests), nginx (HLS benchmark reference),
# promtool (metrics lint), systemd-analyze (units), and the cabin network tests' dnsmasq, nftables, dhclient, dig,
# ip, ping, curl (tests/network). Installed only when missing; needs root.
DEBS := chromium nginx-light prometheus systemd wrk dnsmasq nftables isc-dhcp-client dnsutils iproute2 \
	iputils-ping curl
debs:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "make: need root to install:$$missing" >&2; exit 1; fi; \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# A whole simulated day (two round trips) at SPEED times real time: make run SPEED=1 for real time. SPEED goes
# from 1 to 20 (the default): the daemon's phase holds fit the shortest simulated phase up to 20x. HTTPS on
# 127.0.0.1:8443 with a throwaway local CA's certificate (it prints how to trust the CA).
SPEED ?= 20
run: $(STAMP)
	$(BIN)/appliance run --sim --tls --speed $(SPEED)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy hal appliance

unit: $(STAMP)
	$(BIN)/pytest -q

test: $(STAMP) debs
	$(BIN)/ruff check .
	$(BIN)/mypy hal appliance
	$(BIN)/pytest -q -n 2 --dist loadgroup

# make bench ONLY=storage (or ONLY="storage avionics"): only those; figures in bench-results/runs/<time>/.
ONLY ?=
# Byte-compiled first, as an installed wheel is: start-up figures measure the daemon, not the compiler (the
# interpreter+imports reference gets the same .pyc files).
bench: $(STAMP) debs
	$(BIN)/python -m compileall -q appliance hal firmware_sim
	$(BIN)/python -m tests.bench $(ONLY)

# make bench-compare OLD=bench-results/runs/<a> NEW=bench-results/runs/<b> (default: the two newest runs):
# flags a figure that regressed beyond the noise; exit status 1 if any did.
OLD ?=
NEW ?=
bench-compare:
	$(PYTHON) -m tests.bench.compare $(OLD) $(NEW)

# The avionics trace corpus (tests/data/avionics): new captures from the simulator + goldens, or goldens only.
# Never run by the tests; review the goldens' diff before committing.
avionics-corpus: $(STAMP)
	PYTHONPATH=. $(BIN)/python -m tests.data.avionics.make_corpus

avionics-goldens: $(STAMP)
	PYTHONPATH=. $(BIN)/python -m tests.data.avionics.make_corpus --goldens

# The modem AT transcript corpus (tests/data/modem): goldens replayed through the real channel. Never run by the
# tests; review the goldens' diff before committing.
modem-goldens: $(STAMP)
	PYTHONPATH=. $(BIN)/python -m tests.data.modem.replay

image: $(STAMP)
	$(BIN)/python -m image.build

# Root; installs qemu-system-x86, mmdebstrap and nginx-light with apt-get when missing (image/README.md).
# Part 1: boot, READY, the cabin network, sshd (about 3 minutes). Part 2: release N+1 from an nginx ground,
# switch, reboot, a broken N+2 rolled back (6-17 minutes). Not in `make test`: too slow for CI.
image-test: $(STAMP)
	$(BIN)/python -m image.boot_test
	$(BIN)/python -m image.update_test

clean:
	rm -rf $(VENV) build dist *.egg-info .sim-state .mypy_cache .ruff_cache .pytest_cache
