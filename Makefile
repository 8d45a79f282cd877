# kubedisk.aks — every command the README, the docs and CI use. Each target does its own set-up.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT := $(CURDIR)
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
COLLECTION := $(ROOT)/.build/ansible_collections/kubedisk/aks
# The lab's command line (python -m lab --help lists its verbs); LAB_DIR picks the lab, default .lab/
LAB := PYTHONPATH=$(ROOT)/tests $(PY) -m lab
PYTHON_VERSION = $(shell $(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(ROOT)/ansible.cfg

.PHONY: help faults fleet-report setup lab-setup lab-cat integration test sanity lint changelog-lint units lab-tests molecule demo lab-up lab-down bench build

help:
	@echo "make demo    the whole story against the offline lab (sets itself up)"
	@echo "make test    every test: sanity, lint, unit, integration, Molecule (sets itself up)"
	@echo "make setup | sanity | lint | units | lab-tests | integration | molecule | faults | fleet-report | build | lab-up | lab-down [KEEP=1] | lab-cat PVC=ns/name | bench [ONLY=figure,...]"

setup:
	@scripts/setup.sh

# Suites joined with + run at once (each with a lab and a TMPDIR of its own): most of them wait on the lab's modelled
# timings rather than on the CPU. Groups run one after another.
test: lab-setup
	@scripts/run-tests.sh sanity+lint+changelog-lint+units+requirements+build+floor+oldest-core lab+integration+fleet integration-kube+kube-hostile+awx faults+secrets+molecule

sanity: setup
	@scripts/run-tests.sh sanity

lint: setup
	@scripts/run-tests.sh lint changelog-lint

changelog-lint: setup
	@scripts/run-tests.sh changelog-lint

units: setup
	@scripts/run-tests.sh units

# The Azure modules under every injected fault, bad inputs and two runs at once (tests/hostile/azure; part of make test, a few minutes).
faults: setup
	@scripts/run-tests.sh faults

# The aks inventory and the fleet_storage playbook over 200 clusters in an emulator of their own, with their figures.
fleet-report: setup
	@FLEET_CLUSTERS=200 scripts/run-tests.sh fleet

molecule: setup
	@scripts/run-tests.sh molecule

build: setup
	@ansible-galaxy collection build --force --output-path .build/dist .
	@scripts/run-tests.sh build

# The lab's Kubernetes binaries, built from the Go module proxy into the cache (skipped when built).
lab-setup: setup
	@tests/lab/kube/build.sh

lab-up: lab-setup
	@$(LAB) up

lab-down: setup
	@$(LAB) down $(if $(KEEP),--keep)

lab-cat: setup
	@$(LAB) cat $(PVC)

lab-tests: lab-setup
	@scripts/run-tests.sh lab

integration: lab-setup
	@scripts/run-tests.sh integration integration-kube

# Every figure (ours, a peer and a floor measured in the same run) and one table; ONLY=drain,resize_recovery runs some.
bench: lab-setup
	@PYTHONPATH=tests $(PY) bench/run.py $(if $(ONLY),--only $(ONLY))

# The whole story (tests/demo/demo.yml: the collection's playbooks in order, with the lab-only plays between them)
# against a lab of its own (DEMO_LAB_DIR, default .lab/demo), stopped at the end.
demo: lab-setup
	@scripts/demo.sh
