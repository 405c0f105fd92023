# Builds the rig's binaries from the Go module proxy into $RIG_CACHE/bin (sourced by `up`).
#
# No package ships kube-apiserver/kubelet, and no release binary can be downloaded here, so
# they are compiled from the k8s.io/kubernetes module. Debian's etcd (3.4.23) is older than
# Kubernetes supports, so etcd is built too, at the version the Kubernetes go.mod requires.

RIG_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubeadm kubectl etcd crireset pause)

binaries_cached() {
  local b
  for b in "${RIG_BINARIES[@]}"; do [[ -x $RIG_BIN/$b ]] || return 1; done
}

# k8s.io/kubernetes requires its staging modules (k8s.io/api, ...) at v0.0.0 and replaces them
# with ./staging paths, so it cannot be built as a dependency as is. A wrapper module pins
# each staging module to the matching v0.X.Y instead (kubernetes/kubernetes#79384).
write_wrapper_module() {
  local dir=$1 k8s_mod staging_version
  k8s_mod=$(go mod download -json "k8s.io/kubernetes@$RIG_K8S_VERSION" |
    sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  [[ -f $k8s_mod ]] || die "could not fetch k8s.io/kubernetes@$RIG_K8S_VERSION from the module proxy"
  staging_version=v0.${RIG_K8S_VERSION#v1.}
  {
    echo "module kudev-rig/build"
    echo
    grep -E '^go [0-9]' "$k8s_mod"
    grep -E '^godebug ' "$k8s_mod" || true   # same runtime defaults as upstream builds
    echo
    echo "require k8s.io/kubernetes $RIG_K8S_VERSION"
    echo
    echo "replace ("
    sed -n '/^replace (/,/^)/p' "$k8s_mod" |
      sed -n "s#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\t\1 => \1 $staging_version#p"
    echo ")"
  } >"$dir/go.mod"
  # crireset (down's CRI clean-up tool) builds inside the same module graph.
  mkdir -p "$dir/crireset"
  cp "$RIG_HERE/crireset/main.go" "$dir/crireset/"
}

# Version stamps the components read (`kubectl version`, kubeadm's skew checks).
version_ldflags() {
  local minor=${RIG_K8S_VERSION#v1.}; minor=${minor%%.*}
  local flags="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$RIG_K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  done
  echo "$flags"
}

go_build_all() {
  local dir=$1 out=$2
  # The machine is shared with other work: lowest priority, two compile jobs at most.
  # -mod=mod lets go resolve the wrapper's dependency graph (go.sum checked against sumdb).
  (
    cd "$dir" || exit 1
    export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false -p=2"
    nice -n 19 go build -trimpath -tags selinux,notest -ldflags "$(version_ldflags)" -o "$out/" \
      k8s.io/kubernetes/cmd/kube-apiserver \
      k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler \
      k8s.io/kubernetes/cmd/kubelet \
      k8s.io/kubernetes/cmd/kubeadm \
      k8s.io/kubernetes/cmd/kubectl \
      go.etcd.io/etcd/server/v3 \
      ./crireset
  )
  mv "$out/server" "$out/etcd"   # go names the etcd binary after its module path
}

# The sandbox image's only file: upstream's pause.c, linked statically for a FROM scratch image.
build_pause() {
  local out=$1 src
  src=$(go env GOMODCACHE)/k8s.io/kubernetes@$RIG_K8S_VERSION/build/pause/linux/pause.c
  gcc -Os -Wall -Werror -static -DVERSION="v$RIG_PAUSE_TAG-kudev-rig" -o "$out/pause" "$src"
  strip "$out/pause"
}

build_binaries() {
  if binaries_cached; then
    log "binaries for $RIG_K8S_VERSION cached in $RIG_BIN"
    return
  fi
  command -v go >/dev/null || die "go (>= the version k8s.io/kubernetes $RIG_K8S_VERSION needs) is not installed"
  log "building Kubernetes $RIG_K8S_VERSION + etcd from the Go module proxy (cold: ~11 min on 2 cores)"
  local start=$SECONDS work="$RIG_CACHE/build" out="$RIG_CACHE/bin.partial"
  rm -rf "$work" "$out"
  mkdir -p "$work" "$out"
  write_wrapper_module "$work"
  go_build_all "$work" "$out"
  build_pause "$out"
  # Publish all at once: a build killed half-way never looks cached.
  rm -rf "$RIG_BIN"
  mv "$out" "$RIG_BIN"
  log "built in $((SECONDS - start)) s into $RIG_BIN"
}
