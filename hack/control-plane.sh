#!/usr/bin/env bash
# Builds kube-apiserver, etcd and kubectl from the Go module proxy into the cache folder outside
# the checkout, pinned to the Kubernetes release that matches go.mod's k8s.io/api (v0.X.Y → v1.X.Y).
#
# Why build: setup-envtest downloads prebuilt binaries from the internet, which is not reachable
# here; the Go module proxy is. kube-apiserver and kubectl come from k8s.io/kubernetes with each
# staging module replaced by its published v0 release; etcd from the etcd server module that
# k8s.io/kubernetes itself requires, so the three always agree.
#
# Idempotent: prints the folder holding the binaries (for KUBEBUILDER_ASSETS) and returns at once
# when it is already complete. Progress goes to stderr.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
api_version="$(cd "$root" && go list -m -f '{{.Version}}' k8s.io/api)"
k8s_version="v1.${api_version#v0.}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/enterprise-identity-operator"
bin_dir="$cache/k8s-${k8s_version}/bin"

say() { echo "control-plane: $*" >&2; }

if [[ -x "$bin_dir/kube-apiserver" && -x "$bin_dir/etcd" && -x "$bin_dir/kubectl" ]]; then
  echo "$bin_dir"
  exit 0
fi

mkdir -p "$cache"
# One build at a time: make test and make run may start together.
exec 9>"$cache/.build.lock"
flock 9
if [[ -x "$bin_dir/kube-apiserver" && -x "$bin_dir/etcd" && -x "$bin_dir/kubectl" ]]; then
  echo "$bin_dir"
  exit 0
fi

work="$(mktemp -d "$cache/build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
say "building kube-apiserver, etcd and kubectl ${k8s_version} from the Go module proxy (first time only; about 6 minutes on 2 cores)"

cd "$work"
go mod init example.invalid/control-plane >/dev/null 2>&1
say "resolving k8s.io/kubernetes@${k8s_version}"
gomod="$(go mod download -json "k8s.io/kubernetes@${k8s_version}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
go mod edit -require="k8s.io/kubernetes@${k8s_version}"
# k8s.io/kubernetes points each staging module at ./staging/src/...; use the published releases.
for m in $(sed -n 's#^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/src/.*#\1#p' "$gomod"); do
  go mod edit -replace="${m}=${m}@${api_version}"
done

mkdir -p etcd
cat >etcd/main.go <<'EOF'
// Command etcd is the etcd server, built from the module version k8s.io/kubernetes requires.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
cat >tools.go <<'EOF'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
EOF

say "go mod tidy"
go mod tidy >&2

ver_pkg="k8s.io/component-base/version"
minor="${api_version#v0.}"
minor="${minor%%.*}"
ldflags="-s -w -X ${ver_pkg}.gitVersion=${k8s_version} -X ${ver_pkg}.gitMajor=1 -X ${ver_pkg}.gitMinor=${minor} -X ${ver_pkg}.gitTreeState=clean"

mkdir -p "$work/out"
say "compiling (progress: one line per package group)"
start=$(date +%s)
go build -trimpath -ldflags "$ldflags" -o "$work/out/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl ./etcd >&2
say "compiled in $(( $(date +%s) - start ))s"

mkdir -p "$(dirname "$bin_dir")"
rm -rf "$bin_dir.tmp"
mv "$work/out" "$bin_dir.tmp"
rm -rf "$bin_dir"
mv "$bin_dir.tmp" "$bin_dir"
say "installed into $bin_dir"
echo "$bin_dir"
