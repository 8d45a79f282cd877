#!/usr/bin/env bash
# Build the offline lab's Kubernetes binaries from their Go modules (no binary downloads are reachable here).
#
# Everything lands in a cache outside the repository, keyed by version:
#   ${KUBEDISK_CACHE:-$HOME/.cache/kubedisk}/kube/<family>-<version>/{bin,wrapper,build.log,.stamp}
# One throw-away wrapper module per tool family, so minimum-version selection never lifts the
# dependencies one tool shares with another. A family whose stamp and binaries exist is skipped,
# so a warm run takes seconds. Versions are pinned in versions.env next to this script.
#
# Usage: build.sh [family ...]   families: k8s etcd kwok snapshotter provisioner attacher resizer csi-test csi-spec
#        (default: all). Environment: KUBEDISK_CACHE, GO (path of the go binary), GO_BUILD_P (default 2).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$HERE/versions.env"

CACHE_ROOT=${KUBEDISK_CACHE:-$HOME/.cache/kubedisk}
KUBE=$CACHE_ROOT/kube
GO_BUILD_P=${GO_BUILD_P:-2}
ALL_FAMILIES=(etcd k8s kwok snapshotter provisioner attacher resizer csi-test csi-spec)

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-modcacherw
export GOMODCACHE=$KUBE/go/mod GOCACHE=$KUBE/go/build

START=$SECONDS
say() { printf '[kube-build %4ds] %s\n' "$((SECONDS - START))" "$*"; }
die() { printf '[kube-build] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- go and the module proxy
find_go() {
    if [[ -n "${GO:-}" ]]; then echo "$GO"; return; fi
    if command -v go >/dev/null 2>&1; then command -v go; return; fi
    if [[ -x /usr/local/go/bin/go ]]; then echo /usr/local/go/bin/go; return; fi
    return 1
}
GO=$(find_go) || die "go not found (looked at \$GO, PATH and /usr/local/go/bin/go). Install Go >= 1.26 to build the lab's Kubernetes binaries."
[[ -x "$GO" ]] || die "go at $GO is not executable"
GO_VER=$("$GO" env GOVERSION 2>/dev/null || true)
[[ "$GO_VER" =~ ^go1\.([0-9]+) ]] || die "cannot tell the version of $GO (got '$GO_VER')"
((BASH_REMATCH[1] >= 26)) || die "$GO is $GO_VER; the pinned modules need Go >= 1.26 (GOTOOLCHAIN=local: no toolchain download)"
command -v python3 >/dev/null 2>&1 || die "python3 is needed to read upstream go.mod files"

PROXY_CHECKED=0
check_proxy() {
    ((PROXY_CHECKED)) && return 0
    local proxy out
    proxy=$("$GO" env GOPROXY)
    [[ "$proxy" == off ]] && { PROXY_CHECKED=1; return 0; }
    say "checking the Go module proxy ($proxy)"
    if ! out=$(cd "$KUBE" && timeout 90 "$GO" list -m -versions sigs.k8s.io/kwok 2>&1); then
        die "cannot reach the Go module proxy ($proxy) to build the lab's Kubernetes binaries: ${out:-timed out after 90 s}"
    fi
    PROXY_CHECKED=1
}

# ---------------------------------------------------------------- helpers
# Path of a module's go.mod in the module cache (downloads it when missing).
gomod_of() {
    "$GO" mod download -json "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("GoMod") or sys.exit(d.get("Error")))'
}

# Dir of a module in the module cache (downloads it when missing).
moddir_of() {
    "$GO" mod download -json "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("Dir") or sys.exit(d.get("Error")))'
}

# `go mod edit` arguments that give the wrapper module the upstream module's go line, godebug
# defaults and remote replace directives (replaces in a dependency's go.mod are ignored by Go).
# Local staging replaces (k8s.io/x => ./staging/..., required at v0.0.0) become x@$2.
wrapper_edits() {
    "$GO" mod edit -json "$1" | python3 -c '
import json, sys
staging = sys.argv[1]
d = json.load(sys.stdin)
req = {r["Path"]: r["Version"] for r in d.get("Require") or []}
args = []
if d.get("Go"):
    args.append("-go=" + d["Go"])
for g in d.get("GoDebug") or d.get("Godebug") or []:
    args.append("-godebug=%s=%s" % (g["Key"], g["Value"]))
for r in d.get("Replace") or []:
    old, new = r["Old"], r["New"]
    if new.get("Version"):
        oldv = "@" + old["Version"] if old.get("Version") else ""
        args.append("-replace=%s%s=%s@%s" % (old["Path"], oldv, new["Path"], new["Version"]))
    elif staging and req.get(old["Path"]) == "v0.0.0":
        args.append("-replace=%s=%s@%s" % (old["Path"], old["Path"], staging))
print("\n".join(args))
' "${2:-}"
}

# Run a module-resolving step; when the checksum database refuses, retry once with GOSUMDB=off.
resolve() {
    local log=$1; shift
    if "$@" >>"$log" 2>&1; then return 0; fi
    if grep -qiE 'SECURITY ERROR|checksum mismatch|sum\.golang\.org|verifying .*: ' "$log"; then
        say "  checksum verification failed; retrying with GOSUMDB=off (last resort, see $log)"
        GOSUMDB=off "$@" >>"$log" 2>&1 && return 0
    fi
    tail -n 30 "$log" >&2
    die "step failed: $* (full log: $log)"
}

# Print the first line a binary prints about itself, or fail.
probe() {
    local bin=$1 out try
    local -a tries=(--version -version --help)
    case "$(basename "$bin")" in
        etcdctl) tries=(version) ;;
        kubectl) tries=("version --client") ;;
    esac
    for try in "${tries[@]}"; do
        # shellcheck disable=SC2086
        if out=$(timeout 20 "$bin" $try 2>&1) && [[ -n "$out" ]]; then
            printf '%s' "$out" | head -n 1
            return 0
        fi
    done
    return 1
}

family_done() {  # out bins...
    local out=$1; shift
    [[ -f "$out/.stamp" ]] || return 1
    local b
    for b in "$@"; do [[ -x "$out/bin/$b" ]] || return 1; done
}

# build_family NAME VERSION PRIMARY_MODULE@VERSION STAGING_VERSION LDFLAGS TAGS "GET_ARGS" "name=pkg ..."
build_family() {
    local name=$1 version=$2 primary=$3 staging=$4 ldflags=$5 tags=$6 get_args=$7 bins_spec=$8
    local out=$KUBE/$name-$version wrap log t0=$SECONDS spec bin pkg
    local -a names=()
    for spec in $bins_spec; do names+=("${spec%%=*}"); done
    if family_done "$out" "${names[@]}"; then
        say "$name $version: cached (${names[*]})"
        return 0
    fi
    check_proxy
    wrap=$out/wrapper log=$out/build.log
    mkdir -p "$wrap" "$out/bin"
    : >"$log"
    say "$name $version: resolving modules (wrapper $wrap)"
    rm -f "$wrap/go.mod" "$wrap/go.sum"
    (cd "$wrap" && "$GO" mod init "local/$name" >>"$log" 2>&1)
    local gomod edits
    gomod=$(cd "$wrap" && gomod_of "$primary") || die "cannot download $primary (see the module proxy error above)"
    edits=$(wrapper_edits "$gomod" "$staging")
    # shellcheck disable=SC2086
    [[ -z "$edits" ]] || (cd "$wrap" && "$GO" mod edit $edits)
    # shellcheck disable=SC2086
    (cd "$wrap" && resolve "$log" "$GO" get $get_args)
    for spec in $bins_spec; do
        bin=${spec%%=*} pkg=${spec#*=}
        local tb=$SECONDS
        say "$name $version: building $bin (go build -p $GO_BUILD_P)"
        (cd "$wrap" && resolve "$log" "$GO" build -p "$GO_BUILD_P" -trimpath ${tags:+-tags "$tags"} -ldflags "$ldflags" -o "$out/bin/$bin" "$pkg")
        local about
        about=$(probe "$out/bin/$bin") || die "$out/bin/$bin was built but does not run (see $log)"
        say "$name $version: $bin built in $((SECONDS - tb))s: $about"
    done
    printf 'family=%s\nversion=%s\nbuilt=%s\ngo=%s\nseconds=%s\nbinaries=%s\n' \
        "$name" "$version" "$(date -u +%FT%TZ)" "$GO_VER" "$((SECONDS - t0))" "${names[*]}" >"$out/.stamp"
    say "$name $version: done in $((SECONDS - t0))s"
}

copy_tree() {  # src dst: copy the YAML files only (the module cache also holds Go files and test data)
    local src=$1 dst=$2
    rm -rf "$dst"
    mkdir -p "$dst"
    (cd "$src" && find . -name testdata -prune -o -name '*.yaml' -print0 | while IFS= read -r -d '' f; do
        mkdir -p "$dst/$(dirname "$f")"
        cp "$f" "$dst/$f"
    done)
}

# ---------------------------------------------------------------- families
fam_etcd() {
    build_family etcd "$ETCD_VERSION" "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" "" "-s -w" "" \
        "-tool go.etcd.io/etcd/server/v3@v$ETCD_VERSION go.etcd.io/etcd/etcdctl/v3@v$ETCD_VERSION" \
        "etcd=go.etcd.io/etcd/server/v3 etcdctl=go.etcd.io/etcd/etcdctl/v3"
}

fam_k8s() {
    local k=$K8S_VERSION s=0.${K8S_VERSION#1.} minor ldf="-s -w" p
    minor=$(cut -d. -f2 <<<"$k")
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ldf="$ldf -X $p.gitVersion=v$k -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    done
    local c=k8s.io/kubernetes/cmd
    build_family k8s "$k" "k8s.io/kubernetes@v$k" "v$s" "$ldf" "selinux,notest,grpcnotrace" \
        "-tool $c/kube-apiserver@v$k $c/kube-controller-manager@v$k $c/kube-scheduler@v$k $c/kubectl@v$k" \
        "kube-apiserver=$c/kube-apiserver kube-controller-manager=$c/kube-controller-manager kube-scheduler=$c/kube-scheduler kubectl=$c/kubectl"
}

fam_kwok() {
    local v=$KWOK_VERSION out=$KUBE/kwok-$KWOK_VERSION
    build_family kwok "$v" "sigs.k8s.io/kwok@v$v" "" "-s -w" "" "-tool sigs.k8s.io/kwok/cmd/kwok@v$v" "kwok=sigs.k8s.io/kwok/cmd/kwok"
    if [[ ! -d "$out/stage/node" ]]; then
        check_proxy
        copy_tree "$(cd "$out/wrapper" && moddir_of "sigs.k8s.io/kwok@v$v")/kustomize/stage" "$out/stage"
        say "kwok $v: stage YAMLs copied to $out/stage"
    fi
}

fam_snapshotter() {
    local v=$SNAPSHOTTER_VERSION out=$KUBE/snapshotter-$SNAPSHOTTER_VERSION m=github.com/kubernetes-csi/external-snapshotter
    build_family snapshotter "$v" "$m/v8@v$v" "" "-s -w -X main.version=v$v" "" \
        "-tool $m/v8/cmd/snapshot-controller@v$v $m/v8/cmd/csi-snapshotter@v$v $m/client/v8@v$v" \
        "snapshot-controller=$m/v8/cmd/snapshot-controller csi-snapshotter=$m/v8/cmd/csi-snapshotter"
    if [[ ! -f "$out/crd/snapshot.storage.k8s.io_volumesnapshots.yaml" ]]; then
        check_proxy
        copy_tree "$(cd "$out/wrapper" && moddir_of "$m/client/v8@v$v")/config/crd" "$out/crd"
        say "snapshotter $v: CRDs copied to $out/crd"
    fi
}

fam_provisioner() {
    local v=$PROVISIONER_VERSION m=github.com/kubernetes-csi/external-provisioner/v6
    build_family provisioner "$v" "$m@v$v" "" "-s -w -X main.version=v$v" "" "-tool $m/cmd/csi-provisioner@v$v" "csi-provisioner=$m/cmd/csi-provisioner"
}

fam_attacher() {
    local v=$ATTACHER_VERSION m=github.com/kubernetes-csi/external-attacher/v4
    build_family attacher "$v" "$m@v$v" "" "-s -w -X main.version=v$v" "" "-tool $m/cmd/csi-attacher@v$v" "csi-attacher=$m/cmd/csi-attacher"
}

fam_resizer() {
    local v=$RESIZER_VERSION m=github.com/kubernetes-csi/external-resizer/v2
    build_family resizer "$v" "$m@v$v" "" "-s -w -X main.version=v$v" "" "-tool $m/cmd/csi-resizer@v$v" "csi-resizer=$m/cmd/csi-resizer"
}

fam_csi-test() {
    local v=$CSI_TEST_VERSION m=github.com/kubernetes-csi/csi-test/v5
    build_family csi-test "$v" "$m@v$v" "" "-s -w -X main.VERSION=v$v" "" "-tool $m/cmd/csi-sanity@v$v" "csi-sanity=$m/cmd/csi-sanity"
}

fam_csi-spec() {
    local v=$CSI_SPEC_VERSION out=$KUBE/csi-spec-$CSI_SPEC_VERSION
    if [[ -f "$out/csi.proto" ]]; then
        say "csi-spec $v: cached ($out/csi.proto)"
        return 0
    fi
    check_proxy
    mkdir -p "$out"
    cp "$(cd "$KUBE" && moddir_of "github.com/container-storage-interface/spec@v$v")/csi.proto" "$out/csi.proto"
    chmod 0644 "$out/csi.proto"
    say "csi-spec $v: csi.proto copied to $out/csi.proto"
}

# ---------------------------------------------------------------- main
families=("$@")
((${#families[@]})) || families=("${ALL_FAMILIES[@]}")
for f in "${families[@]}"; do
    declare -F "fam_$f" >/dev/null || die "unknown family '$f' (known: ${ALL_FAMILIES[*]})"
done
mkdir -p "$KUBE"
say "cache $KUBE, $GO_VER ($GO), families: ${families[*]}"
for f in "${families[@]}"; do "fam_$f"; done

# A stable place for people (and the lab) to find the current binaries: symlinks and a paths file.
mkdir -p "$KUBE/bin"
paths=$KUBE/paths.env
{
    echo "# Written by tests/lab/kube/build.sh; paths of the lab's Kubernetes binaries for the pinned versions."
    for d in "etcd-$ETCD_VERSION" "k8s-$K8S_VERSION" "kwok-$KWOK_VERSION" "snapshotter-$SNAPSHOTTER_VERSION" \
        "provisioner-$PROVISIONER_VERSION" "attacher-$ATTACHER_VERSION" "resizer-$RESIZER_VERSION" "csi-test-$CSI_TEST_VERSION"; do
        [[ -d "$KUBE/$d/bin" ]] || continue
        for b in "$KUBE/$d/bin"/*; do
            [[ -x "$b" ]] || continue
            ln -sfn "$b" "$KUBE/bin/$(basename "$b")"
            v=$(basename "$b" | tr 'a-z-' 'A-Z_')
            echo "$v=$b"
        done
    done
    [[ -d "$KUBE/kwok-$KWOK_VERSION/stage" ]] && echo "KWOK_STAGE_DIR=$KUBE/kwok-$KWOK_VERSION/stage"
    [[ -d "$KUBE/snapshotter-$SNAPSHOTTER_VERSION/crd" ]] && echo "SNAPSHOT_CRD_DIR=$KUBE/snapshotter-$SNAPSHOTTER_VERSION/crd"
    [[ -f "$KUBE/csi-spec-$CSI_SPEC_VERSION/csi.proto" ]] && echo "CSI_PROTO=$KUBE/csi-spec-$CSI_SPEC_VERSION/csi.proto"
} >"$paths"
say "done in $((SECONDS - START))s; binaries in $KUBE/<family>-<version>/bin (symlinked from $KUBE/bin), paths in $paths:"
grep -v '^#' "$paths" | sed 's/^/    /'
