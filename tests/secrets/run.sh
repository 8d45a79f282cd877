#!/usr/bin/env bash
# The secrets suite: runs every playbook of playbooks/ in the order of the story against a lab of its own, with
# -vvv --diff, the module invocation injected into every result (inject_invocation), the Azure client secret in the
# module options and, after provision.yml, the kubeconfig given inline as a dict. Then scan.py looks for the client
# secret and the kubeconfig's credentials in the output, the registered results (callback_plugins/result_dump.py),
# the Ansible log, the syslog lines the modules send (syslog_capture.py on /dev/log when no syslog daemon holds it)
# and the files the run left (its Ansible temp folders and its HOME, both inside the run's folder, so other runs on the
# machine neither add to nor hide what it left; the run's folder; the lab folder outside the lab's own state). Exits 1 when a playbook fails or anything leaked.
# SECRETS_KEEP=1 keeps the run's folder. Expects scripts/setup.sh and the lab's binaries (the Makefile's lab-setup).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here="$root/tests/secrets"
export PATH="$root/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$root/ansible.cfg"
work=$(mktemp -d)
export LAB_DIR="$work/lab"
inputs="$work/inputs"  # what the suite gives the playbooks: the lab's variables, the kubeconfig, its inline copy
out="$work/out"        # what the suite captures: output, results, the Ansible log, syslog
mkdir -m 0700 "$inputs" "$out" "$work/ansible-local" "$work/ansible-remote" "$work/home"
syslog_pid=
began=$SECONDS

lab() { (cd "$root" && PYTHONPATH=tests python -m lab "$@"); }
finish() {
    local rc=$?
    [ -z "$syslog_pid" ] || { kill "$syslog_pid" 2>/dev/null; wait "$syslog_pid" 2>/dev/null; }
    lab down >/dev/null 2>&1 || true
    if [ "${SECRETS_KEEP:-0}" = 1 ]; then echo "secrets: the run's folder is $work"; else rm -rf "$work"; fi
    exit "$rc"
}
trap finish EXIT

lab up || exit 1
lab vars --output "$inputs/lab-vars.json" || exit 1
find "$LAB_DIR" -type f | sort >"$work/lab-files-before"

python "$here/syslog_capture.py" /dev/log "$out/syslog.log" &
syslog_pid=$!
for _ in $(seq 50); do [ -f "$out/syslog.log" ] || ! kill -0 "$syslog_pid" 2>/dev/null && break; sleep 0.1; done
if [ -f "$out/syslog.log" ]; then
    syslog_place="syslog=$out/syslog.log"
else
    echo "secrets: /dev/log is served by a syslog daemon here; its lines are not scanned"
    syslog_pid= syslog_place=
fi

# Nothing reaches the playbooks from the environment: every credential comes from the options under test.
drop=(-u AZURE_SUBSCRIPTION_ID -u AZURE_TENANT -u AZURE_TENANT_ID -u AZURE_CLIENT_ID -u AZURE_SECRET -u AZURE_CLIENT_SECRET
      -u AZURE_CLOUD_ENVIRONMENT -u AZURE_AUTHORITY_HOST -u REQUESTS_CA_BUNDLE -u SSL_CERT_FILE -u KUBECONFIG
      -u K8S_AUTH_KUBECONFIG -u LAB_DIR)
played=()
# play NAME [ansible-playbook options...]: playbooks/NAME.yml with -vvv --diff; its output under out/.
play() {
    local name=$1 started=$SECONDS
    shift
    (cd "$root" && env "${drop[@]}" HOME="$work/home" ANSIBLE_INJECT_INVOCATION=true ANSIBLE_LOG_PATH="$out/ansible.log" \
        ANSIBLE_LOCAL_TEMP="$work/ansible-local" ANSIBLE_REMOTE_TEMP="$work/ansible-remote" \
        ANSIBLE_CALLBACK_PLUGINS="$here/callback_plugins" ANSIBLE_CALLBACKS_ENABLED=result_dump \
        SECRETS_RESULTS_FILE="$out/results.jsonl" \
        ansible-playbook "playbooks/$name.yml" -i "$here/inventory.yml" -e "@$inputs/lab-vars.json" \
        -e "secrets_inputs=$inputs" -vvv --diff "$@" >"$out/$name.stdout" 2>"$out/$name.stderr")
    local rc=$?
    echo "secrets: $name.yml: $(grep -E '^localhost +:' "$out/$name.stdout" | tail -1 | tr -s ' ') ($((SECONDS - started)) s)"
    if [ "$rc" -ne 0 ]; then
        tail -n 40 "$out/$name.stdout" "$out/$name.stderr"
        echo "secrets: $name.yml failed" >&2
        exit 1
    fi
    played+=("$name")
}

play provision
# From here on the kubeconfig goes inline: kubedisk_kubeconfig = <the dict>, as extra vars.
python - "$inputs/provision.kubeconfig" "$inputs/inline-kubeconfig.json" <<'PY' || exit 1
import json
import os
import sys

import yaml

with open(sys.argv[1], encoding="utf-8") as handle:
    kubeconfig = yaml.safe_load(handle)
with open(os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
    json.dump({"kubedisk_kubeconfig": kubeconfig}, handle)
PY
inline=(-e "@$inputs/inline-kubeconfig.json")
play csi "${inline[@]}"
play stateful_app "${inline[@]}"
node=$(python - "$inputs/provision.kubeconfig" <<'PY'
import sys

import kubernetes

kubernetes.config.load_kube_config(sys.argv[1])
print(kubernetes.client.CoreV1Api().read_namespaced_pod("nginx-statefulset-0", "secrets").spec.node_name)
PY
) || exit 1
play drain "${inline[@]}" -e "{\"node_maintenance_nodes\": [\"$node\"]}"
play snapshot "${inline[@]}" -e '{"volume_snapshot_snapshots": [{"name": "sts0-snap", "pvc": "azuredisk-nginx-statefulset-0"}]}'
play restore "${inline[@]}" -e '{"volume_snapshot_restores": [{"name": "sts0-restored", "snapshot": "sts0-snap"}],
    "volume_snapshot_azure_restores": [{"pvc": "azuredisk-nginx-statefulset-0", "snapshot_name": "sts0-azure",
    "resource_group": "MC_secrets_secrets_westeurope", "zone": "1", "name": "sts0-zone1"}]}'
play resize "${inline[@]}" -e volume_resize_size=2Gi -e volume_resize_mode=offline -e volume_resize_ignore_pdb=true
play recover_node "${inline[@]}"

[ -z "$syslog_pid" ] || { kill "$syslog_pid"; wait "$syslog_pid" 2>/dev/null; syslog_pid=; }
# Files the run added to the lab folder, outside the lab's own state (its emulator, control plane and logs).
find "$LAB_DIR" -type f | sort | comm -13 "$work/lab-files-before" - \
    | grep -vE "^$LAB_DIR/(azure|kube)/|\.log$|\.process\.json$" >"$work/lab-files-added" || true
echo "secrets: ${#played[@]} playbooks run (${played[*]}) in $((SECONDS - began)) s; scanning"
python "$here/scan.py" "$inputs/lab-vars.json" "$inputs/provision.kubeconfig" \
    "stdout=$(ls "$out"/*.stdout | paste -sd,)" "stderr=$(ls "$out"/*.stderr | paste -sd,)" \
    "registered results=$out/results.jsonl" "ansible log=$out/ansible.log" ${syslog_place:+"$syslog_place"} \
    "ansible temp folders=$work/ansible-local,$work/ansible-remote" "the run's HOME=$work/home" \
    "lab folder, files the run added=$(paste -sd, "$work/lab-files-added")" \
    "the run's folder, inputs aside=$(find "$work" -maxdepth 1 -type f | paste -sd,)"
rc=$?
echo "secrets: done in $((SECONDS - began)) s"
exit "$rc"
