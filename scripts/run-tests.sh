#!/usr/bin/env bash
# Runs the named test suites in order (all of them even when one fails), then prints one line per
# suite and a closing "N passed, N failed" line; exits non-zero when any suite failed.
# An argument joining suites with "+" (integration-kube+kube-hostile) runs them at once: each one's output
# goes to a file and is printed whole when it ends, and the summary adds the group's wall time.
# Every suite gets a lab folder (LAB_DIR) and a TMPDIR of its own, fresh temporary folders, so suites never share a lab.
# Expects scripts/setup.sh to have run (the Makefile sees to that).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${KUBEDISK_CACHE:-$HOME/.cache/kubedisk}
export PATH="$root/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$root/ansible.cfg"
export NO_COLOR=1 PY_COLORS=0 ANSIBLE_NOCOLOR=1
pyver=$("$root/.venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

lab() {
    # The lab's command line (python -m lab VERB); LAB_DIR says which lab.
    (cd "$root" && PYTHONPATH=tests python -m lab "$@")
}

suite_sanity() {
    # ansible-test wants the collection at .../ansible_collections/kubedisk/aks and lists its files
    # itself; a copy of what git tracks (or would), outside the repository, gives it exactly that.
    # --venv: ansible-test builds (and caches) the pinned tool venvs each test needs.
    # The copy is the run's own (a temporary folder), so two runs at once never share it.
    local top copy rc
    top=$(mktemp -d)
    copy="$top/ansible_collections/kubedisk/aks"
    mkdir -p "$copy"
    (cd "$root" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$copy")
    # kubernetes.core beside it, where ansible-galaxy installs the dependency: the modules use its argument spec and
    # doc fragment.
    mkdir -p "$top/ansible_collections/kubernetes"
    cp -rL "$root/.build/ansible_collections/kubernetes/core" "$top/ansible_collections/kubernetes/core"
    (cd "$copy" && ansible-test sanity --venv --python "$pyver" --color no)
    rc=$?
    rm -rf "$top"
    return "$rc"
}

suite_lint() {
    # ansible-lint, and ruff's security rules (ruff.toml: flake8-bandit's S rules on plugins/ and tests/lab/).
    local rc=0
    (cd "$root" && ansible-lint --profile production --offline) || rc=1
    (cd "$root" && ruff check --no-cache) || rc=1
    return "$rc"
}

suite_changelog-lint() {
    (cd "$root" && antsibull-changelog lint)
}

suite_units() {
    (cd "$root" && PYTHONPATH="$root/.build" python -m pytest -p no:cacheprovider -q tests/unit bench/tests)
}

setup_venv() {
    # The python of the venv scripts/setup.sh builds (once, cached) for suite $1; its output only when it fails.
    local out
    out=$("$root/scripts/setup.sh" "$1" 2>&1) || { printf '%s\n' "$out" >&2; return 1; }
    echo "$root/.build/venv-$1/bin/python"
}

suite_floor() {
    # The unit tests and the emulator's SDK tests (tests/lab/azure/tests) on requirements.txt's floors exactly: each
    # `name>=X` installed as `name==X`, with the lab's requirements and the pinned pytest and ansible-core.
    local py rc=0
    py=$(setup_venv floor) || return 1
    (cd "$root" && PYTHONPATH="$root/.build" "$py" -m pytest -p no:cacheprovider -q tests/unit) || rc=1
    (cd "$root" && PYTHONPATH="$root/tests" "$py" -m pytest -p no:cacheprovider -q -rs tests/lab/azure/tests) || rc=1
    return "$rc"
}

suite_oldest-core() {
    # ansible-test sanity and the unit tests on the oldest ansible-core that meta/runtime.yml's requires_ansible claims
    # (2.17), in a venv with requirements.txt and pytest. Sanity as suite_sanity does it, with that core's ansible-test.
    local py rc=0
    py=$(setup_venv oldest-core) || return 1
    (PATH="$(dirname "$py"):$PATH" suite_sanity) || rc=1
    (cd "$root" && PYTHONPATH="$root/.build" "$py" -m pytest -p no:cacheprovider -q tests/unit) || rc=1
    return "$rc"
}

suite_requirements() {
    # requirements.txt resolves together with kubernetes.core's and azure.azcollection's requirements and the EE's
    # ansible-core for the EE's Python; extensions/ee/execution-environment.yml makes its build context (no image).
    (cd "$root" && python -m pytest -p no:cacheprovider -q tests/requirements)
}

suite_lab() {
    # The offline lab's own tests: each fixture starts what it needs on free loopback ports.
    (cd "$root" && PYTHONPATH="$root/tests" python -m pytest -p no:cacheprovider -q tests/lab)
}

suite_faults() {
    # The Azure modules under hostile input and faults, against emulator-only labs of the suite's own (tests/hostile/azure):
    # each module's create, update and delete under every injected fault, bad inputs to the modules and the Azure-side
    # roles, two runs at once. Prints the fault matrix with its counts, and the counts of inputs tried and writes made.
    # Two xdist workers, a lab each: the fault matrix on one, the other files on the other (a few minutes on 2 cores).
    (cd "$root/tests/hostile/azure" && python -m pytest -p no:cacheprovider -q -n 2 --dist loadfile .)
}

suite_fleet() {
    # The kubedisk.aks.aks inventory and playbooks/fleet_storage.yml over a fleet of clusters (FLEET_CLUSTERS, default 6;
    # make fleet-report: 200) in an emulator-only lab of its own (tests/fleet); prints the times, ARM calls and throttling.
    (cd "$root" && python -m pytest -p no:cacheprovider -q tests/fleet)
}

suite_build() {
    # The built tarball carries the collection and nothing that needs the lab: only the allowed top-level
    # entries, none of the denied paths, no file that calls the lab; and it installs offline (with its
    # kubernetes.core dependency given beside it) into an empty folder.
    local out tarball entries count outside denied calls
    out=$(mktemp -d)
    (cd "$root" && ansible-galaxy collection build --force --output-path "$out/dist" . >/dev/null) || { rm -rf "$out"; return 1; }
    tarball=$(ls "$out"/dist/kubedisk-aks-*.tar.gz)
    entries=$(tar tzf "$tarball")
    count=$(wc -l <<<"$entries")
    outside=$(grep -vE '^(plugins|roles|playbooks|meta|docs|changelogs|extensions)(/|$)|^(README\.md|COPYING|requirements\.txt|MANIFEST\.json|FILES\.json)$' <<<"$entries" || true)
    denied=$(grep -E '^(tests|extensions/molecule|scripts|bench)(/|$)|(^|[/._-])lab([/._-]|$)' <<<"$entries" || true)
    mkdir "$out/content" && tar xzf "$tarball" -C "$out/content"
    calls=$(cd "$out/content" && grep -rlE 'demo_lab|\bLAB_DIR\b|-m lab\b|lab_python|lab\.kubedisk\.io' . | sed 's|^\./||' || true)
    if [ -n "$outside$denied$calls" ]; then
        echo "build: $(basename "$tarball") ($count entries) carries what it must not:"
        [ -z "$outside" ] || { echo "-- outside the allowed top-level entries:"; echo "$outside"; }
        [ -z "$denied" ] || { echo "-- tests, Molecule scenarios, scripts, benchmarks or the lab:"; echo "$denied"; }
        [ -z "$calls" ] || { echo "-- files that call the lab:"; echo "$calls"; }
        rm -rf "$out"; return 1
    fi
    (cd "$out" && env -u ANSIBLE_CONFIG HOME="$out" ansible-galaxy collection install --offline -p "$out/installed" \
        "$tarball" "$root/.build/ansible_collections/kubernetes/core/") || { rm -rf "$out"; return 1; }
    test -f "$out/installed/ansible_collections/kubedisk/aks/MANIFEST.json" || { rm -rf "$out"; return 1; }
    echo "build: $(basename "$tarball") ($count entries, all under the allowed top-level entries, nothing of the lab) installs offline"
    rm -rf "$out"
}

suite_integration() {
    # The Azure modules' targets run against the ARM emulator alone.
    integration_targets cloud/azure-lab 0
}

suite_integration-kube() {
    # The Kubernetes-side modules' targets need the whole lab (control plane, CSI driver, bridge).
    integration_targets cloud/kube-lab 1
}

suite_kube-hostile() {
    # What a hostile run tried on the Kubernetes side, against the whole lab: sizes Azure cannot make, scaled-down
    # StatefulSets, refused online resizes, two resizes at once, a Deployment's pod and a bare pod in a drain, module
    # processes killed at each step of a resize and a drain, then rerun.
    integration_targets cloud/kube-lab-hostile 1
}

integration_targets() {
    # Starts the lab (LAB_KUBE=$2), runs each target under tests/integration/targets whose aliases say
    # $1 through tests/integration/integration.yml with ansible-playbook, prints
    # the ARM reads/writes per module (create, rerun) and the LRO completion -> module return latency,
    # and stops the lab. Every AZURE_* variable is removed from the playbooks' environment: the modules
    # get the lab's settings only through module_defaults for group/kubedisk.aks.azure, from the vars
    # file `python -m lab vars` writes (integration-vars.json in the lab folder, mode 0600), and the
    # targets reach the lab through `python -m lab`. INTEGRATION_TARGETS="a b" runs a subset.
    local alias=$1 kube=$2 rc=0 target targets vars counts latency prefix started lab_dir=$LAB_DIR
    local -a drop=(-u AZURE_SUBSCRIPTION_ID -u AZURE_TENANT -u AZURE_TENANT_ID -u AZURE_CLIENT_ID -u AZURE_SECRET
                   -u AZURE_CLIENT_SECRET -u AZURE_CLOUD_ENVIRONMENT -u AZURE_AUTHORITY_HOST -u REQUESTS_CA_BUNDLE -u SSL_CERT_FILE)
    LAB_KUBE=$kube lab up || return 1
    vars="$lab_dir/integration-vars.json"
    counts="$lab_dir/integration-counts.jsonl"
    latency="$lab_dir/integration-latency.txt"
    prefix="it$(date +%s | tail -c 6)"
    rm -f "$counts" "$latency"
    lab vars --output "$vars" || rc=1
    targets=${INTEGRATION_TARGETS:-$(cd "$root/tests/integration/targets" && grep -lx "$alias" ./*/aliases | xargs grep -Lx hidden | cut -d/ -f2 | sort)}
    local -a timings=()
    for target in $targets; do
        printf -- '--- integration target %s\n' "$target"
        started=$SECONDS
        if (
            set -a
            # shellcheck disable=SC1091
            . "$lab_dir/env"
            set +a
            cd "$root" && env "${drop[@]}" ANSIBLE_DISPLAY_OK_HOSTS=false ANSIBLE_DISPLAY_SKIPPED_HOSTS=false \
                ansible-playbook tests/integration/integration.yml -e "lab_vars_file=$vars" -e "lab_target=$target" \
                -e "lab_prefix=$prefix" -e "lab_counts_file=$counts" -e "lab_latency_file=$latency"
        ); then
            timings+=("$(printf '  %-28s ok      %4d s' "$target" $((SECONDS - started)))")
        else
            timings+=("$(printf '  %-28s FAILED  %4d s' "$target" $((SECONDS - started)))")
            rc=1
        fi
    done
    printf 'Targets (wall time each):\n'
    printf '%s\n' "${timings[@]}"
    python - "$counts" "$latency" <<'EOF'
import json
import os
import statistics
import sys

counts, latency = sys.argv[1:]
if os.path.exists(counts):
    print("ARM calls per module (reads / accepted writes):")
    with open(counts, encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            print("  %-16s %-7s reads %3d  writes %d" % (row["module"], row["phase"], row["reads"], row["writes"]))
if os.path.exists(latency):
    with open(latency, encoding="utf-8") as handle:
        values = [float(v) for v in handle if v.strip()]
    if values:
        print("LRO completion -> module return: median %.3f s, min %.3f s, max %.3f s over %d operations"
              % (statistics.median(values), min(values), max(values), len(values)))
EOF
    lab down || rc=1
    return "$rc"
}

suite_molecule() {
    (cd "$root/extensions" && molecule test --all)
}

suite_secrets() {
    # Every playbook against a lab of its own with -vvv --diff, injected invocations, the Azure client secret in the
    # module options and the kubeconfig inline; fails when the secret or the kubeconfig's credentials show up in the
    # output, the results, the Ansible log, syslog or the files the run left (tests/secrets/run.sh).
    "$root/tests/secrets/run.sh"
}

suite_awx() {
    # extensions/awx (credential types, job templates, surveys) against the controller's format rules, then every
    # playbook run as a controller job runs it (ansible-runner, a private data directory per job holding only what its
    # credentials inject and its survey answers) against a lab of the suite's own (tests/awx).
    (cd "$root/tests/awx" && python -m pytest -p no:cacheprovider -q .)
}

run_suite() {
    # suite_$1 in a subshell with a folder of its own (removed after the suite): its lab folder (LAB_DIR) and its
    # TMPDIR, so suites at once share neither a lab nor pytest's temporary root (a pytest run deletes all but the
    # newest three base folders there, another suite's live lab state among them).
    local work rc
    work=$(mktemp -d)
    mkdir "$work/lab" "$work/tmp"
    (export LAB_DIR=$work/lab TMPDIR=$work/tmp; "suite_$1")
    rc=$?
    rm -rf "$work"
    return "$rc"
}

record() {
    # record SUITE RC SECONDS: the suite's summary line and count.
    if [ "$2" -eq 0 ]; then
        results+=("PASS  $1 ($3 s)")
        passed=$((passed + 1))
    else
        results+=("FAIL  $1 ($3 s)")
        failed=$((failed + 1))
    fi
}

run_group() {
    # run_group a+b+c: one suite runs in the foreground; several run at once, each one's output printed whole
    # when it ends, each timed from the group's start.
    local started=$SECONDS suite pid rc out
    local -a members
    local -A running=()
    IFS=+ read -ra members <<<"$1"
    if [ "${#members[@]}" -eq 1 ]; then
        printf '\n===== %s =====\n' "$1"
        run_suite "$1"
        record "$1" "$?" "$((SECONDS - started))"
        return
    fi
    out=$(mktemp -d)
    for suite in "${members[@]}"; do
        run_suite "$suite" >"$out/$suite.log" 2>&1 </dev/null &
        running[$!]=$suite
    done
    printf '\n===== %s: started at once =====\n' "$1"
    while [ "${#running[@]}" -gt 0 ]; do
        wait -n -p pid "${!running[@]}"
        rc=$?
        suite=${running[$pid]}
        unset "running[$pid]"
        printf '\n===== %s =====\n' "$suite"
        cat "$out/$suite.log"
        record "$suite" "$rc" "$((SECONDS - started))"
    done
    rm -rf "$out"
    results+=("      group $1: $((SECONDS - started)) s wall")
}

declare -a results=()
passed=0
failed=0
began=$SECONDS
for group in "$@"; do
    IFS=+ read -ra members <<<"$group"
    for suite in "${members[@]}"; do
        if ! declare -F "suite_$suite" >/dev/null; then
            echo "run-tests: unknown suite '$suite'" >&2
            exit 2
        fi
    done
done
for group in "$@"; do
    run_group "$group"
done

printf '\n===== summary =====\n'
printf '%s\n' "${results[@]}"
echo "suites: $passed passed, $failed failed ($((SECONDS - began)) s wall)"
[ "$failed" -eq 0 ]
