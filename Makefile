# FretCoach Portable — plain `make` prints this help.
# `make run` and `make test` do all their own set-up on a fresh Debian / Raspberry Pi OS
# machine: apt packages (when run as root; otherwise they are listed for you), a .venv,
# and an editable install. Set-up is stamped, so the second run skips straight to work.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q

# Build deps for aubio (compiles from source) and pyaudio (links PortAudio);
# libsndfile1: soundfile reads WAV files through it.
APT_RUN  := build-essential python3-dev python3-venv portaudio19-dev libsndfile1
# Test / bench extras: FluidSynth + the three GM soundfonts Debian ships render the guitar
# sets (FluidR3 for the dev split, TimGM6mb and MuseScore General for the test split);
# libsndfile is what librosa (the benchmark peer) reads audio with; PostgreSQL runs the
# reference Hub's DATABASE_URL test on a throwaway loopback cluster.
# espeak-ng + alsa-utils (aplay): the coach's optional text-to-speech, offline voice and player.
# chromium + chromium-driver: the Hub pages' headless-browser test (selenium drives them).
APT_TEST := fluidsynth fluid-soundfont-gm timgm6mb-soundfont musescore-general-soundfont-small libsndfile1 postgresql espeak-ng alsa-utils chromium chromium-driver

STAMP_RUN := $(VENV)/.stamp-run-$(shell cksum pyproject.toml | cut -d' ' -f1)
STAMP_DEV := $(VENV)/.stamp-dev-$(shell cksum pyproject.toml | cut -d' ' -f1)

.DEFAULT_GOAL := help
.PHONY: help run test lint format bench setup setup-dev install uninstall install-check install-check-arm64 clean

help: ## show this help
	@echo "FretCoach Portable"
	@echo
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'
	@echo
	@echo "Start with: make run   (no hardware, no keys needed)"

run: $(STAMP_RUN) ## set up, then play the bundled demo through the whole device (no hardware)
	$(VENV)/bin/fretcoach analyze --demo
	$(VENV)/bin/fretcoach run --source demo --display emulator --buttons none --local-hub \
		-o display.emulator_dir='"out/oled"' -o coach.first_tip_s=4

test: $(STAMP_DEV) ## set up (incl. test tools), then run the test suite
	$(PY) -m pytest

lint: $(STAMP_DEV) ## ruff lint + format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP_DEV) ## apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP_DEV) ## benchmarks: engine per condition vs aubio and librosa (test split + real notes), a stranger's recording chain and pedals, synthetic nylon, store and sync, the Hub under attack, the device, memory on a 1 GiB WAV, the coach
	$(PY) -m bench.evaluate --split all --json out/eval.json --md out/eval.md
	$(PY) -m bench.tuning
	$(PY) -m bench.stress | tee out/bench_stress.txt
	$(PY) -m bench.stress --variants as-is,pedals --why \
		--conditions clean,legato,repeated,let-ring,low-E2-G3,fast-16ths,sustain \
		| tee out/bench_pedals.txt
	$(PY) -m bench.nylon --seeds 0:6 | tee out/bench_nylon.txt
	$(PY) -m bench.sync
	$(PY) -m bench.hub
	$(PY) -m bench.device
	$(PY) -m bench.wav
	$(PY) -m bench.coach

setup: $(STAMP_RUN) ## create .venv and install the product
setup-dev: $(STAMP_DEV) ## create .venv and install the product + test tools

$(STAMP_RUN):
	@./.ci/apt-install $(APT_RUN)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip setuptools wheel
	$(PIP) install -e .
	@rm -f $(VENV)/.stamp-run-*; touch $@

$(STAMP_DEV): $(STAMP_RUN)
	@./.ci/apt-install $(APT_TEST)
	$(PIP) install -e '.[dev]'
	@rm -f $(VENV)/.stamp-dev-*; touch $@

install: ## on a Raspberry Pi, as root: install and start the fretcoach service
	./systemd/install.sh

uninstall: ## on a Raspberry Pi, as root: remove the service (keeps sessions and settings)
	./systemd/uninstall.sh

install-check: ## as root: rehearse install/uninstall on a fresh Debian Bookworm chroot
	./systemd/chroot-check.sh

install-check-arm64: ## as root: the same on the Pi's arm64 userland, through qemu-user (slow: ~1 h)
	./systemd/chroot-check.sh --arch arm64

clean: ## remove the venv and caches (keeps your sessions)
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
