#!/usr/bin/env bash
# Offline validation of deploy/k8s (no cluster needed), run by .ci/run:
#   1. yamllint on every YAML file under deploy/k8s (config: deploy/k8s/.yamllint.yaml);
#   2. `kubectl kustomize` renders the dev and prod overlays;
#   3. kubernetes-validate --strict checks every rendered resource against the schemas of
#      Kubernetes $K8S_VERSION shipped in the package (unknown fields are errors);
#   4. check_manifests.py: security context, gRPC probes and requests/limits on every container,
#      a Service, PDB (and in prod an HPA) per Deployment, the restricted namespace, and the
#      dependencies. The CloudNativePG Cluster is a CRD whose schema is not available offline:
#      kubernetes-validate skips it, check_manifests.py checks the fields gridloop relies on.
# Tools: kubectl (apt), yamllint (apt), kubernetes-validate (pip, with PyYAML). A missing tool
# fails the run, naming how to install it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
K8S_VERSION="${K8S_VERSION:-1.32.0}"

missing=0
need() { # tool, how to install
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "validate: $1 is missing (install: $2)" >&2
    missing=1
  fi
}
need kubectl "apt-get install -y kubectl"
need yamllint "apt-get install -y yamllint"
need kubernetes-validate "pip install kubernetes-validate"
need python3 "apt-get install -y python3"
if ! python3 -c 'import yaml' 2>/dev/null; then
  echo "validate: python3 has no PyYAML (install: pip install kubernetes-validate, which brings it)" >&2
  missing=1
fi
if [[ $missing == 1 ]]; then
  exit 1
fi

echo "validate: yamllint"
yamllint --strict -c "$here/.yamllint.yaml" "$here"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
checks=()
for overlay in dev prod; do
  echo "validate: kubectl kustomize overlays/$overlay"
  # With the default load restrictions, as Argo CD and Flux render: every file a generator reads
  # lies inside its kustomization.
  kubectl kustomize "$here/overlays/$overlay" >"$out/$overlay.yaml"
  echo "validate: kubernetes-validate --strict -k $K8S_VERSION overlays/$overlay"
  kubernetes-validate --strict --quiet -k "$K8S_VERSION" "$out/$overlay.yaml"
  checks+=("$overlay=$out/$overlay.yaml")
done
echo "validate: check_manifests.py"
python3 "$here/check_manifests.py" "${checks[@]}" --deps "$here/deps"
echo "validate: deploy/k8s is valid (Kubernetes $K8S_VERSION)"
