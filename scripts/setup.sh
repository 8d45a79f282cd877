#!/usr/bin/env bash
# One-command, idempotent set-up for developing and testing kubedisk.aks on a fresh machine.
#   scripts/setup.sh [floor] [oldest-core]
# also builds the venvs of those test suites (scripts/run-tests.sh floor, oldest-core).
#
# Heavy things are cached per machine outside the repository (KUBEDISK_CACHE, default
# ~/.cache/kubedisk) and keyed by what they were built from, so a clean clone reuses them:
#   venv/<key>/            Python venv for the pinned requirements (.venv links to it)
#   venv/floor-<key>/      requirements.txt's floors exactly, each `name>=X` as `name==X` (.build/venv-floor)
#   venv/oldest-core-<key>/  the oldest ansible-core that meta/runtime.yml claims (.build/venv-oldest-core)
#   collections/<ver>/     kubernetes.core extracted from the `ansible` wheel (Galaxy is not reachable)
# In the repository (git-ignored):
#   .venv                  symlink to the cached venv
#   .build/ansible_collections/{kubedisk/aks,kubernetes/core}
#                          links that make both collections loadable from the repository
set -euo pipefail

start=$(date +%s%N)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${KUBEDISK_CACHE:-$HOME/.cache/kubedisk}
mkdir -p "$cache"
cd "$root"
# One set-up at a time per cache: concurrent make targets would otherwise build the same venv over each other.
exec 9>"$cache/.setup.lock"
flock 9

log() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# --- Python: 3.12 (ansible-core 2.21) where present, else 3.11 (ansible-core 2.19) -------------
find_python() {
    local v candidate
    for v in 3.12 3.11; do
        for candidate in "python$v" "$HOME"/.pyenv/versions/"$v".*/bin/"python$v" /usr/bin/"python$v" /usr/local/bin/"python$v"; do
            if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys, venv' >/dev/null 2>&1; then
                command -v "$candidate"
                return 0
            fi
        done
    done
    return 1
}
python=${KUBEDISK_PYTHON:-$(find_python)} || die "Python 3.12 or 3.11 is required (set KUBEDISK_PYTHON to its path)"
pyver=$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')

# --- venv keyed by interpreter and every requirements file -------------------------------------
# cached_venv VENV REQUIREMENTS_FILE: VENV, made once with pip install -r REQUIREMENTS_FILE (one left half-made, without
# its .complete mark, is made again).
cached_venv() {
    local venv=$1 reqs=$2
    [ -x "$venv/bin/python" ] && [ -f "$venv/.complete" ] && return 0
    log "creating $venv for Python $pyver (first run: a few minutes)"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q -r "$reqs"
    touch "$venv/.complete"
}
key=$( { echo "$pyver"; cat requirements.txt requirements-dev.txt tests/lab/requirements.txt; } | sha256sum | cut -c1-16)
venv="$cache/venv/py$pyver-$key"
cached_venv "$venv" requirements-dev.txt
if [ "$(readlink .venv 2>/dev/null)" != "$venv" ]; then
    rm -rf .venv
    ln -s "$venv" .venv
fi
py=.venv/bin/python

# --- kubernetes.core, from the `ansible` wheel ---------------------------------------------------
ansible_pkg=$("$py" -c 'import sys; print("14.5.0" if sys.version_info >= (3, 12) else "12.3.0")')
collections="$cache/collections/ansible-$ansible_pkg"
if [ ! -f "$collections/.complete" ]; then
    log "extracting kubernetes.core from ansible $ansible_pkg"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    "$py" -m pip download -q --no-deps --only-binary=:all: -d "$cache/wheels" "ansible==$ansible_pkg"
    "$py" - "$cache/wheels" "$ansible_pkg" "$work" <<'EOF'
import pathlib
import sys
import zipfile

wheels, version, dest = sys.argv[1:]
wheel = next(pathlib.Path(wheels).glob(f"ansible-{version}-*.whl"))
prefix = "ansible_collections/kubernetes/core/"
with zipfile.ZipFile(wheel) as zf:
    zf.extractall(dest, [n for n in zf.namelist() if n.startswith(prefix)])
EOF
    rm -rf "$collections"
    out=$(.venv/bin/ansible-galaxy collection install --offline --force -p "$collections" \
        "$work/ansible_collections/kubernetes/core" 2>&1) || die "installing kubernetes.core failed: $out"
    touch "$collections/.complete"
fi

# --- the collection tree that ansible, ansible-lint and Molecule load (ansible.cfg points here) ---
tree=.build/ansible_collections
mkdir -p "$tree/kubedisk" "$tree/kubernetes"
ln -sfn "$root" "$tree/kubedisk/aks"
ln -sfn "$collections/ansible_collections/kubernetes/core" "$tree/kubernetes/core"

# --- the venvs of the floor and oldest-core suites, when asked for -----------------------------------
# suite_venv NAME REQUIREMENTS: the venv of NAME for the requirements text given, keyed by the interpreter and that
# text (created once); .build/venv-NAME links to it.
suite_venv() {
    local name=$1 reqs=$2 key venv list
    key=$( { echo "$pyver"; printf '%s\n' "$reqs"; } | sha256sum | cut -c1-16)
    venv="$cache/venv/$name-$key"
    list=$(mktemp)
    printf '%s\n' "$reqs" >"$list"
    cached_venv "$venv" "$list"
    rm -f "$list"
    ln -sfn "$venv" ".build/venv-$name"
}
# floor: requirements.txt's floors exactly (a requirement without a lone `>=` floor is an error), the lab's
# requirements, and the pinned pytest and ansible-core of requirements-dev.txt.
# oldest-core: the newest patch of the ansible-core minor that requires_ansible names, requirements.txt, pytest.
# ansible-core 2.17's controller runs on Python 3.10 to 3.12, so both use the main venv's Python.
oldest_core=2.17.14
pythons=("$py")
for suite in "$@"; do
    case $suite in
        floor)
            unfloored=$(grep -vE '^[[:space:]]*(#|$)' requirements.txt | grep -vE '^[A-Za-z0-9._-]+>=[^,;[:space:]]+$' || true)
            [ -z "$unfloored" ] || die "requirements.txt: no lone '>=' floor in: $unfloored"
            reqs=$(sed -nE 's/^([A-Za-z0-9._-]+)>=([^,;[:space:]]+)$/\1==\2/p' requirements.txt
                   grep -vE '^[[:space:]]*(#|$)' tests/lab/requirements.txt
                   grep -E '^(ansible-core|pytest)==' requirements-dev.txt) ;;
        oldest-core)
            claimed=$(sed -nE "s/^requires_ansible: *[\"']?>=([0-9]+\.[0-9]+).*/\1/p" meta/runtime.yml)
            [ "${oldest_core%.*}" = "$claimed" ] \
                || die "meta/runtime.yml claims ansible-core >=$claimed, but the oldest-core venv is of $oldest_core"
            reqs=$(echo "ansible-core==$oldest_core"
                   grep -vE '^[[:space:]]*(#|$)' requirements.txt
                   grep -E '^pytest==' requirements-dev.txt) ;;
        *) die "unknown suite venv '$suite' (floor, oldest-core)" ;;
    esac
    suite_venv "$suite" "$reqs"
    pythons+=(".build/venv-$suite/bin/python")
done

# --- ansible-test offline: the get-pip script it would download --------------------------------
# ansible-test pins the pip version it bootstraps into its venvs (default_packages in python_requirements.py);
# each ansible-core set up here gets the stand-in for its version.
for venv_python in "${pythons[@]}"; do
    pip_ver=$("$venv_python" - <<'EOF'
import pathlib
import re

import ansible_test

src = (pathlib.Path(ansible_test.__file__).parent / "_internal/python_requirements.py").read_text()
match = re.search(r"pip=['\"]([0-9.]+)['\"]", src)
print(match.group(1) if match else "")
EOF
)
    [ -n "$pip_ver" ] || continue
    getpip="$HOME/.ansible/test/cache/get_pip_${pip_ver//./_}.py"
    if [ -f "$getpip" ]; then
        continue
    fi
    mkdir -p "$(dirname "$getpip")"
    cat >"$getpip" <<'EOF'
"""Offline stand-in for get-pip.py: bootstrap pip with ensurepip, then let it install the rest."""
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + args))
EOF
    log "placed $getpip"
done

log "ready: Python $pyver, $(.venv/bin/ansible --version | sed -n 1p), kubernetes.core from ansible $ansible_pkg"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
printf 'setup: done in %d.%01d s\n' $((ms / 1000)) $((ms % 1000 / 100))
