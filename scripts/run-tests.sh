#!/usr/bin/env bash
# Runs the named test suites in order (all of them even when one fails), then prints one line per
# suite and a closing "N passed, N failed" line; exits non-zero when any suite failed.
# Expects scripts/setup.sh to have run (the Makefile sees to that).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${KUBEDISK_CACHE:-$HOME/.cache/kubedisk}
export PATH="$root/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$root/ansible.cfg"
export NO_COLOR=1 PY_COLORS=0 ANSIBLE_NOCOLOR=1
pyver=$("$root/.venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

suite_sanity() {
    # ansible-test wants the collection at .../ansible_collections/kubedisk/aks and lists its files
    # itself; a copy of what git tracks (or would), outside the repository, gives it exactly that.
    # --venv: ansible-test builds (and caches) the pinned tool venvs each test needs.
    local copy
    copy="$cache/sanity/$(printf '%s' "$root" | sha256sum | cut -c1-12)/ansible_collections/kubedisk/aks"
    rm -rf "$copy" && mkdir -p "$copy"
    (cd "$root" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$copy")
    (cd "$copy" && ansible-test sanity --venv --python "$pyver" --color no)
}

suite_lint() {
    (cd "$root" && ansible-lint --profile production --offline)
}

suite_changelog-lint() {
    (cd "$root" && antsibull-changelog lint)
}

suite_units() {
    (cd "$root" && PYTHONPATH="$root/.build" python -m pytest -p no:cacheprovider -q tests/unit)
}

suite_lab() {
    # The offline lab's own tests: each fixture starts what it needs on free loopback ports.
    (cd "$root" && PYTHONPATH="$root/tests" python -m pytest -p no:cacheprovider -q tests/lab)
}

suite_build() {
    # The built tarball must carry the collection and nothing of the lab, caches or venvs, and
    # install offline (with its kubernetes.core dependency given beside it) into an empty folder.
    local out tarball leaked
    out=$(mktemp -d)
    (cd "$root" && ansible-galaxy collection build --force --output-path "$out/dist" . >/dev/null) || return 1
    tarball=$(ls "$out"/dist/kubedisk-aks-*.tar.gz)
    leaked=$(tar tzf "$tarball" | grep -E '^(tests/lab|tests/output|\.lab|\.venv|\.build|collections|scripts|bench/results)(/|$)' || true)
    if [ -n "$leaked" ]; then
        echo "build: the tarball carries what it must not:"; echo "$leaked"; rm -rf "$out"; return 1
    fi
    (cd "$out" && env -u ANSIBLE_CONFIG HOME="$out" ansible-galaxy collection install --offline -p "$out/installed" \
        "$tarball" "$root/.build/ansible_collections/kubernetes/core/") || { rm -rf "$out"; return 1; }
    test -f "$out/installed/ansible_collections/kubedisk/aks/MANIFEST.json" || { rm -rf "$out"; return 1; }
    echo "build: $(basename "$tarball") ($(tar tzf "$tarball" | wc -l) entries) installs offline"
    rm -rf "$out"
}

suite_molecule() {
    (cd "$root/extensions" && molecule test --all)
}

declare -a results=()
passed=0
failed=0
for suite in "$@"; do
    if ! declare -F "suite_$suite" >/dev/null; then
        echo "run-tests: unknown suite '$suite'" >&2
        exit 2
    fi
    printf '\n===== %s =====\n' "$suite"
    started=$SECONDS
    if "suite_$suite"; then
        results+=("PASS  $suite ($((SECONDS - started)) s)")
        passed=$((passed + 1))
    else
        results+=("FAIL  $suite ($((SECONDS - started)) s)")
        failed=$((failed + 1))
    fi
done

printf '\n===== summary =====\n'
printf '%s\n' "${results[@]}"
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
