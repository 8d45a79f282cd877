#!/usr/bin/env bash
# make demo: starts the offline lab in its own folder (DEMO_LAB_DIR, default .lab/demo), runs playbooks/demo.yml
# against it with an inventory generated from the lab's env (git-ignored, in the lab folder), prints the report,
# runs demo.yml a second time without the imperative `story` tasks and checks it changed nothing, and stops the lab
# (also on failure; DEMO_KEEP_LAB=1 leaves it running, and a running lab in that folder is reused).
# Expects scripts/setup.sh and the lab's binaries (the Makefile's lab-setup).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$root/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$root/ansible.cfg"
export LAB_DIR=${DEMO_LAB_DIR:-$root/.lab/demo}
mkdir -p "$LAB_DIR"
inventory="$LAB_DIR/demo-inventory.yml"
report="$LAB_DIR/demo-report.txt"
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

# The inventory: Azure auth only through kubedisk_azure (module_defaults), the lab-only part switched on.
(
    set -a
    # shellcheck disable=SC1091
    . "$LAB_DIR/env"
    set +a
    python - "$inventory" "$root" "$report" <<'PY'
import json
import os
import sys

out, root, report = sys.argv[1:]
azure = {"auth_source": "credential", "subscription_id": os.environ["AZURE_SUBSCRIPTION_ID"],
         "tenant": os.environ["AZURE_TENANT_ID"], "client_id": os.environ["AZURE_CLIENT_ID"],
         "secret": os.environ["AZURE_CLIENT_SECRET"], "cloud_environment": os.environ["AZURE_CLOUD_ENVIRONMENT"],
         "authority_host": os.environ["AZURE_AUTHORITY_HOST"], "ca_bundle": os.environ["REQUESTS_CA_BUNDLE"]}
env = {k: v for k, v in os.environ.items() if k.startswith(("AZURE_", "LAB_")) or k in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")}
host = {
    "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
    "kubedisk_azure": azure, "kubedisk_cluster_name": "kubedisk", "kubedisk_resource_group": "kubedisk",
    "kubedisk_location": "westeurope", "kubedisk_kubeconfig": os.path.join(os.environ["LAB_DIR"], "demo.kubeconfig"),
    "kubedisk_kubeconfig_credential": "admin",
    "demo_lab": True, "demo_pod_annotations": {"lab.kubedisk.io/writer": "true"},
    "demo_lab_helper": os.path.join(root, "scripts", "demo_lab.py"), "demo_lab_env": env, "demo_report_file": report,
}
with open(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
    json.dump({"all": {"hosts": {"localhost": host}}}, handle, indent=1)
PY
)

# No AZURE_* or Kubernetes settings in the playbook's environment: everything comes from the inventory.
drop=(-u AZURE_SUBSCRIPTION_ID -u AZURE_TENANT -u AZURE_TENANT_ID -u AZURE_CLIENT_ID -u AZURE_SECRET -u AZURE_CLIENT_SECRET
      -u AZURE_CLOUD_ENVIRONMENT -u AZURE_AUTHORITY_HOST -u REQUESTS_CA_BUNDLE -u SSL_CERT_FILE -u KUBECONFIG -u K8S_AUTH_KUBECONFIG)
play() { (cd "$root" && env "${drop[@]}" ANSIBLE_DISPLAY_SKIPPED_HOSTS=false ansible-playbook playbooks/demo.yml -i "$inventory" "$@"); }

echo "demo: first run of playbooks/demo.yml"
first=$SECONDS
play
echo "demo: first run took $((SECONDS - first)) s"
cat "$report"

echo "demo: second run of playbooks/demo.yml without the imperative steps (--skip-tags story): every convergent step must report no change"
second=$SECONDS
log="$LAB_DIR/demo-second-run.log"
play --skip-tags story -e "demo_report_file=$LAB_DIR/demo-report-second-run.txt" | tee "$log"
recap=$(grep -E '^localhost +:' "$log" | tail -1)
echo "demo: second run took $((SECONDS - second)) s: $recap"
if ! grep -qE 'changed=0 ' <<<"$recap"; then
    echo "demo: the second run changed something (see $log)" >&2
    exit 1
fi
echo "demo: the report of the first run:"
cat "$report"
echo "demo: done in $((SECONDS - began)) s"
