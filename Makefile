# kubedisk.aks — every command the README, the docs and CI use. Each target does its own set-up.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT := $(CURDIR)
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
COLLECTION := $(ROOT)/.build/ansible_collections/kubedisk/aks
PYTHON_VERSION = $(shell $(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(ROOT)/ansible.cfg

.PHONY: help setup test sanity lint changelog-lint units molecule demo lab-up lab-down bench build

help:
	@echo "make demo    the whole story against the offline lab (sets itself up)"
	@echo "make test    every test: sanity, lint, unit, integration, Molecule (sets itself up)"
	@echo "make setup | sanity | lint | units | molecule | build | lab-up | lab-down | bench"

setup:
	@scripts/setup.sh

test: setup
	@scripts/run-tests.sh sanity lint changelog-lint units build molecule

sanity: setup
	@scripts/run-tests.sh sanity

lint: setup
	@scripts/run-tests.sh lint changelog-lint

changelog-lint: setup
	@scripts/run-tests.sh changelog-lint

units: setup
	@scripts/run-tests.sh units

molecule: setup
	@scripts/run-tests.sh molecule

build: setup
	@ansible-galaxy collection build --force --output-path .build/dist .
	@scripts/run-tests.sh build

demo lab-up lab-down:
	@echo "make $@: not yet — the offline lab (ARM emulator and Kubernetes control plane) has not landed." >&2; exit 2

bench:
	@echo "make bench: not yet — there is nothing to benchmark until the lab has landed." >&2; exit 2
