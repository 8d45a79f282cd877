#!/usr/bin/env bash
# One-command, idempotent set-up for developing and testing kubedisk.aks on a fresh machine.
#
# Heavy things are cached per machine outside the repository (KUBEDISK_CACHE, default
# ~/.cache/kubedisk) and keyed by what they were built from, so a clean clone reuses them:
#   venv/<key>/            Python venv for the pinned requirements (.venv links to it)
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
key=$( { echo "$pyver"; cat requirements.txt requirements-dev.txt tests/lab/requirements.txt; } | sha256sum | cut -c1-16)
venv="$cache/venv/py$pyver-$key"
if [ ! -x "$venv/bin/ansible-test" ] || [ ! -f "$venv/.complete" ]; then
    log "creating venv for Python $pyver in $venv (first run: a few minutes)"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q -r requirements-dev.txt
    touch "$venv/.complete"
fi
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

# --- ansible-test offline: the get-pip script it would download --------------------------------
# ansible-test pins the pip version it bootstraps into its venvs (default_packages in python_requirements.py).
pip_ver=$("$py" - <<'EOF'
import pathlib
import re

import ansible_test

src = (pathlib.Path(ansible_test.__file__).parent / "_internal/python_requirements.py").read_text()
match = re.search(r"pip=['\"]([0-9.]+)['\"]", src)
print(match.group(1) if match else "")
EOF
)
if [ -n "$pip_ver" ]; then
    getpip="$HOME/.ansible/test/cache/get_pip_${pip_ver//./_}.py"
    if [ ! -f "$getpip" ]; then
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
    fi
fi

log "ready: Python $pyver, $(.venv/bin/ansible --version | head -1), kubernetes.core from ansible $ansible_pkg"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
printf 'setup: done in %d.%01d s\n' $((ms / 1000)) $((ms % 1000 / 100))
