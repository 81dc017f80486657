#!/usr/bin/env bash
# Create, delete or preload the nphelpers kind cluster (the live backend of the lab).
#
#   scripts/kind-cluster.sh up            # kind's own CNI enforces NetworkPolicy (kind >= 0.25)
#   scripts/kind-cluster.sh up --calico   # WSL2 & co.: no default CNI, Calico instead
#   scripts/kind-cluster.sh down          # delete the cluster
#   scripts/kind-cluster.sh load-images   # copy the lab images from local Docker into the nodes
#
# Environment: NPHELPERS_CLUSTER (cluster name, default nphelpers), CALICO_VERSION,
# NPHELPERS_SERVER_IMAGE / NPHELPERS_CLIENT_IMAGE (the images load-images copies).
set -euo pipefail

KIND_MIN_VERSION="0.25.0"   # kindnet enforces policies since 0.24; 0.25 fixed a DNS flake
KIND_CI_VERSION="v0.25.0"   # what .github/workflows/kind.yml pins
CLUSTER="${NPHELPERS_CLUSTER:-nphelpers}"
CALICO_VERSION="${CALICO_VERSION:-v3.28.2}"
POD_CIDR="10.244.0.0/16"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONTEXT="kind-${CLUSTER}"

die() { echo "error: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found: $2"; }

check_kind() {
  need kind "install kind ${KIND_CI_VERSION} (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)"
  local v
  v="$(kind version | sed -n 's/^kind v\([0-9][0-9.]*\).*/\1/p')"
  [ -n "$v" ] || die "cannot tell the kind version from '$(kind version)'"
  if [ "$(printf '%s\n%s\n' "$KIND_MIN_VERSION" "$v" | sort -V | head -n1)" != "$KIND_MIN_VERSION" ]; then
    die "kind $v is too old: NetworkPolicy needs kind >= ${KIND_MIN_VERSION} (CI uses ${KIND_CI_VERSION})"
  fi
}

install_calico() {
  local manifest
  manifest="$(mktemp)"
  echo "Installing Calico ${CALICO_VERSION} with IP pool ${POD_CIDR}..."
  curl -fsSL "https://raw.githubusercontent.com/projectcalico/calico/${CALICO_VERSION}/manifests/calico.yaml" \
    | sed -e 's|# - name: CALICO_IPV4POOL_CIDR|- name: CALICO_IPV4POOL_CIDR|' \
          -e "s|#   value: \"192.168.0.0/16\"|  value: \"${POD_CIDR}\"|" >"$manifest"
  grep -q "value: \"${POD_CIDR}\"" "$manifest" \
    || die "calico.yaml ${CALICO_VERSION} changed shape: could not set CALICO_IPV4POOL_CIDR"
  kubectl --context "$CONTEXT" apply -f "$manifest"
  rm -f "$manifest"
  kubectl --context "$CONTEXT" -n kube-system rollout status daemonset/calico-node --timeout=300s
}

up() {
  local calico=false config="${ROOT}/kind/cluster.yaml"
  if [ "${1:-}" = "--calico" ]; then calico=true; config="${ROOT}/kind/calico-cluster.yaml"; fi
  check_kind
  need kubectl "install kubectl (https://kubernetes.io/docs/tasks/tools/)"
  if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
    echo "kind cluster '${CLUSTER}' already exists (delete it with: $0 down)"
  else
    kind create cluster --name "$CLUSTER" --config "$config"
  fi
  if $calico; then install_calico; fi
  kubectl --context "$CONTEXT" wait --for=condition=Ready nodes --all --timeout=300s
  kubectl --context "$CONTEXT" config use-context "$CONTEXT" >/dev/null
  echo
  echo "Cluster '${CLUSTER}' is ready (context ${CONTEXT})."
  echo "Check that it enforces NetworkPolicy:  python -m nphelpers doctor"
}

down() {
  check_kind
  kind delete cluster --name "$CLUSTER"
}

load_images() {
  check_kind
  need docker "load-images copies images from the local Docker daemon"
  local img
  for img in "${NPHELPERS_SERVER_IMAGE:-nginx:1.27-alpine}" "${NPHELPERS_CLIENT_IMAGE:-busybox:1.36}"; do
    docker image inspect "$img" >/dev/null 2>&1 || docker pull "$img"
    kind load docker-image "$img" --name "$CLUSTER"
  done
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) down ;;
  load-images) load_images ;;
  *) echo "usage: $0 up [--calico] | down | load-images" >&2; exit 2 ;;
esac
