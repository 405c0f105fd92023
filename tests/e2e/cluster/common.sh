# Settings and helpers shared by `up`, `down` and `build.sh` (sourced, not run).
# shellcheck disable=SC2034  # the settings are used by the scripts that source this file
#
# Everything the rig creates at run time lives under $RIG_DIR; built binaries live in
# $RIG_CACHE (keyed by Kubernetes version) so that a second machine boot can skip the build.

# Pinned versions. Only versions that the Go module proxy serves can be built here;
# v1.34.4 is also served, as an (untested) fallback.
RIG_K8S_VERSION=${KUDEV_RIG_K8S_VERSION:-v1.35.4}
# The sandbox ("pause") image tag that kubeadm of this version pins.
RIG_PAUSE_TAG=3.10.1

RIG_DIR=${KUDEV_RIG_DIR:-/var/lib/kudev-rig}
RIG_CACHE=${KUDEV_RIG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kudev-rig}/$RIG_K8S_VERSION
RIG_BIN=$RIG_CACHE/bin

# Layout of the state directory.
RIG_RUN=$RIG_DIR/run            # pid files and sockets
RIG_LOGS=$RIG_DIR/logs          # one log per daemon
RIG_PKI=$RIG_DIR/pki            # kubeadm-made certificates
RIG_KCONF=$RIG_DIR/kubeadm      # kubeadm-made kubeconfigs for the components
RIG_KUBECONFIG=$RIG_DIR/kubeconfig   # the one users and tests get (context kudev-rig)
RIG_ENV_FILE=$RIG_DIR/e2e.env   # `source` it to point the e2e suite at the rig
RIG_CONTAINERD_SOCK=$RIG_RUN/containerd.sock

RIG_NODE=kudev-rig
RIG_CONTEXT=kudev-rig
RIG_REGISTRY=localhost:5000

# Pod network: a bridge on this machine, pods in network namespaces the rig makes. The
# bridge's own address doubles as the node IP, because the kubelet refuses a loopback node
# IP; the API server reaches the kubelet there, which is still an address of this machine.
RIG_BRIDGE=kudevrig0
RIG_POD_SUBNET=10.217.0.0/24
RIG_NODE_IP=10.217.0.1
RIG_SERVICE_CIDR=10.217.128.0/24

# The kubelet's cgroupRoot: all pod cgroups live below /kudev-rig in each hierarchy, so `down`
# removes exactly those.
RIG_CGROUP=kudev-rig

# Images the rig itself needs; `localhost/` names can only ever resolve to this machine.
RIG_PAUSE_IMAGE=localhost/kudev-rig/pause:$RIG_PAUSE_TAG
RIG_SMOKE_IMAGE=localhost/kudev-rig/smoke:1

# The components, in the order they start. `down` stops them in reverse.
RIG_DAEMONS=(etcd kube-apiserver kube-controller-manager kube-scheduler registry containerd kubelet)

log() { printf '[kudev-rig] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

require_root() { [[ $(id -u) == 0 ]] || die "must run as root (it mounts, runs containers, edits cgroups)"; }

# kubectl from the rig's own build, same version as the server.
rig_kubectl() { "$RIG_BIN/kubectl" --kubeconfig "$RIG_KUBECONFIG" "$@"; }

# ---- daemons: started detached, tracked by pid file only --------------------------------

# The pid file holds the pid and the executable, so a recycled pid is never taken for ours.
pid_file() { echo "$RIG_RUN/$1.pid"; }

# Prints the pid of daemon NAME if it is running, else fails.
daemon_pid() {
  local file pid exe
  file=$(pid_file "$1")
  [[ -f $file ]] || return 1
  { read -r pid; read -r exe; } <"$file"
  [[ -n $pid && -e /proc/$pid ]] || return 1
  [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$exe" ]] || return 1
  echo "$pid"
}

# start_daemon NAME CMD...: run CMD in its own session (no terminal signal reaches it, and it
# outlives the calling shell), appending to logs/NAME.log.
start_daemon() {
  local name=$1; shift
  local exe
  exe=$(readlink -f "$(command -v "$1")")
  setsid "$@" >>"$RIG_LOGS/$name.log" 2>&1 </dev/null &
  printf '%s\n%s\n' "$!" "$exe" >"$(pid_file "$name")"
  log "started $name (pid $!, log $RIG_LOGS/$name.log)"
}

# stop_pid PID NAME: SIGTERM, give it 20 s to exit, then SIGKILL.
stop_pid() {
  local pid=$1 name=$2
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 40); do
    [[ -e /proc/$pid ]] || return 0
    # A zombie already exited; it only waits for its parent to reap it.
    [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] && return 0
    sleep 0.5
  done
  log "$name (pid $pid) ignored SIGTERM for 20 s, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

stop_daemon() {
  local name=$1 pid
  if pid=$(daemon_pid "$name"); then
    log "stopping $name (pid $pid)"
    stop_pid "$pid" "$name"
  fi
  rm -f "$(pid_file "$name")"
}

# wait_until SECONDS WHAT CMD...: poll CMD once a second; on time-out show the newest log lines.
wait_until() {
  local secs=$1 what=$2; shift 2
  for _ in $(seq 1 "$secs"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  log "timed out after ${secs}s waiting for: $what"
  tail -n 25 "$RIG_LOGS"/*.log >&2 2>/dev/null || true
  return 1
}
