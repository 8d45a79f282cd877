#!/usr/bin/env bash
# make demo: starts the offline lab in its own folder (DEMO_LAB_DIR, default .lab/demo), runs tests/demo/demo.yml (the
# collection's playbooks with the lab-only plays between them) against it with tests/demo/inventory.yml and the lab's
# variables (`lab vars`, git-ignored in the lab folder), prints the report table (the demo_report callback), runs the
# demo a second time without the imperative `story` tasks and checks it changed nothing, and stops the lab (also on
# failure; DEMO_KEEP_LAB=1 leaves it running, and a running lab in that folder is reused).
# Expects scripts/setup.sh and the lab's binaries (the Makefile's lab-setup).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$root/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$root/ansible.cfg"
export LAB_DIR=${DEMO_LAB_DIR:-$root/.lab/demo}
mkdir -p "$LAB_DIR"
lab_vars="$LAB_DIR/demo-lab-vars.json"
began=$SECONDS

lab() { (cd "$root" && PYTHONPATH=tests python -m lab "$@"); }
stop() {
    local rc=$?
    if [ "${DEMO_KEEP_LAB:-0}" = 1 ]; then echo "demo: lab left running in $LAB_DIR"; else lab down || true; fi
    exit "$rc"
}
trap stop EXIT

if [ -f "$LAB_DIR/env" ] && lab status >/dev/null 2>&1; then
    echo "demo: reusing the lab running in $LAB_DIR"
else
    lab up
fi
lab vars --output "$lab_vars"

# No AZURE_*, Kubernetes or lab settings in the playbook's environment: everything comes from the inventory and the
# lab's variables.
drop=(-u AZURE_SUBSCRIPTION_ID -u AZURE_TENANT -u AZURE_TENANT_ID -u AZURE_CLIENT_ID -u AZURE_SECRET -u AZURE_CLIENT_SECRET
      -u AZURE_CLOUD_ENVIRONMENT -u AZURE_AUTHORITY_HOST -u REQUESTS_CA_BUNDLE -u SSL_CERT_FILE -u KUBECONFIG -u K8S_AUTH_KUBECONFIG
      -u LAB_DIR)
# play REPORT_FILE [ansible-playbook options...]
play() {
    local report=$1
    shift
    (cd "$root" && env "${drop[@]}" ANSIBLE_DISPLAY_SKIPPED_HOSTS=false ANSIBLE_CALLBACK_PLUGINS=tests/demo/callback_plugins \
        ANSIBLE_CALLBACKS_ENABLED=demo_report DEMO_REPORT_FILE="$report" \
        ansible-playbook tests/demo/demo.yml -i tests/demo/inventory.yml -e "@$lab_vars" "$@")
}

echo "demo: first run of tests/demo/demo.yml"
first=$SECONDS
play "$LAB_DIR/demo-report.txt"
echo "demo: first run took $((SECONDS - first)) s"

echo "demo: second run without the imperative steps (--skip-tags story): every convergent step must report no change"
second=$SECONDS
log="$LAB_DIR/demo-second-run.log"
play "$LAB_DIR/demo-report-second-run.txt" --skip-tags story | tee "$log"
recap=$(grep -E '^localhost +:' "$log" | tail -1)
echo "demo: second run took $((SECONDS - second)) s: $recap"
if ! grep -qE 'changed=0 ' <<<"$recap"; then
    echo "demo: the second run changed something (see $log)" >&2
    exit 1
fi
echo "demo: the report of the first run:"
cat "$LAB_DIR/demo-report.txt"
echo "demo: done in $((SECONDS - began)) s"
