#!/usr/bin/env python3
"""What deploy/k8s must guarantee, checked on rendered overlays (run by deploy/k8s/validate.sh).

    check_manifests.py OVERLAY=RENDERED.yaml ... [--deps DIR]

For every container of every workload: the restricted security context (non-root, read-only
root filesystem, no privilege escalation, all capabilities dropped, RuntimeDefault seccomp),
CPU and memory requests and limits, and its own NATS user with the password from a Secret; for
every container of a Deployment (long-running) also native gRPC liveness and readiness probes on
its plaintext health port (kubelet's gRPC probes cannot speak TLS) — except the HTTP server
(`serve http`), which is probed over HTTP (`/healthz`, `/readyz`) and, calling the services over
gRPC, holds no database or NATS credentials at all. Migration Jobs run to
completion, so probes are not required of them. Per Deployment: a Service, a
PodDisruptionBudget and, in prod, a HorizontalPodAutoscaler; the namespace enforces the
restricted Pod Security Standard. Per overlay: gRPC is TLS (prod always) or plaintext is allowed
explicitly, tokens can be verified (an identity provider, or the signing-key Secret mounted), and
the services that seal or open residents' contacts (intake, dispatch, evaluation) read the master
key from the mounted gridloop-master-key Secret.
With --deps: the CloudNativePG Cluster (whose CRD schema is not available offline) and the NATS
Helm values are checked here for what gridloop relies on.

Before judging the real manifests it breaks copies of them on purpose and requires every
breakage to be reported, so a checker that stopped looking would fail too.
"""

import copy
import re
import sys

import yaml

WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}
SECRET_DATABASE = ("gridloop-pg-app", "uri")
SECRET_NATS_USERS = "gridloop-nats-users"
SECRET_TLS = "gridloop-grpc-tls"
SECRET_SIGNING_KEY = "gridloop-signing-key"
SECRET_MASTER_KEY = "gridloop-master-key"
# The services that seal (intake) or open (dispatch's GetCase, evaluation's residents' cases)
# reporters' contacts: each needs the one master key of personal data.
VAULT_COMPONENTS = ("intake", "dispatch", "evaluation")
IDENTITY_PROVIDER = ("GRIDLOOP_OIDC_ISSUER", "GRIDLOOP_JWKS_URL", "GRIDLOOP_JWKS_FILE")
FIRST = "gridloop.io/install-first"
HTTP_COMPONENT = "http"


def pod_spec(doc):
    return doc["spec"]["template"]["spec"]


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in (selector or {}).get("matchLabels", {}).items())


def is_http(doc):
    return doc["kind"] == "Deployment" and pod_spec_labels(doc).get("app.kubernetes.io/component") == HTTP_COMPONENT


def http_container_problems(container):
    """The HTTP server: HTTP probes on its port, and no credentials it does not use."""
    problems = []
    ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    if "http" not in ports:
        problems.append("no port named http")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = container.get(probe, {}).get("httpGet")
        if get is None or get.get("path") != path or get.get("port") not in ("http", ports.get("http")):
            problems.append(f"no {probe} GET {path} on the http port")
    env = {e["name"] for e in container.get("env", [])}
    for name in ("GRIDLOOP_DATABASE_URL", "GRIDLOOP_NATS_PASSWORD", "GRIDLOOP_NATS_USER"):
        if name in env:
            problems.append(f"{name} is given to the HTTP server, which needs no such credential")
    return problems


def container_problems(where, kind, pod, container, http=False):
    problems = []
    pod_sc = pod.get("securityContext", {})
    sc = container.get("securityContext", {})

    def need(ok, what):
        if not ok:
            problems.append(f"{where}: {what}")

    need(sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, "runAsNonRoot is not true")
    need(sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem is not true")
    need(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation is not false")
    need("ALL" in sc.get("capabilities", {}).get("drop", []), "capabilities do not drop ALL")
    need(not sc.get("capabilities", {}).get("add"), "capabilities are added")
    need(sc.get("privileged") is not True, "privileged")
    seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {}))
    need(seccomp.get("type") == "RuntimeDefault", "seccompProfile is not RuntimeDefault")
    resources = container.get("resources", {})
    for bound in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            need(resource in resources.get(bound, {}), f"no {resource} {bound[:-1]}")
    if http:
        return problems + [f"{where}: {problem}" for problem in http_container_problems(container)]
    env = {e["name"]: e for e in container.get("env", [])}
    user = env.get("GRIDLOOP_NATS_USER", {}).get("value")
    need(user is not None, "no NATS user of its own (GRIDLOOP_NATS_USER)")
    password = env.get("GRIDLOOP_NATS_PASSWORD", {}).get("valueFrom", {}).get("secretKeyRef", {})
    need((password.get("name"), password.get("key")) == (SECRET_NATS_USERS, user), f"NATS password not from secret {SECRET_NATS_USERS}/{user}")
    if kind == "Deployment":
        ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
        need("grpc" in ports, "no port named grpc")
        need("health" in ports, "no port named health")
        for probe in ("livenessProbe", "readinessProbe"):
            grpc = container.get(probe, {}).get("grpc")
            need(grpc is not None, f"no native gRPC {probe}")
            if grpc is not None:
                need(grpc.get("port") == ports.get("health"), f"{probe} is not on the health port")
        readiness = container.get("readinessProbe", {}).get("grpc", {})
        liveness = container.get("livenessProbe", {}).get("grpc", {})
        need(readiness.get("service", "") == "", "readinessProbe must check the overall status ('')")
        need(liveness.get("service") == "liveness", "livenessProbe must check service 'liveness'")
        ref = env.get("GRIDLOOP_DATABASE_URL", {}).get("valueFrom", {}).get("secretKeyRef", {})
        need((ref.get("name"), ref.get("key")) == SECRET_DATABASE, "database URL not from secret gridloop-pg-app/uri")
    return problems


def overlay_problems(overlay, docs):
    problems = []
    by_kind = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
    namespaces = by_kind.get("Namespace", [])
    if not namespaces:
        problems.append(f"{overlay}: no Namespace")
    for ns in namespaces:
        labels = ns["metadata"].get("labels", {})
        if labels.get("pod-security.kubernetes.io/enforce") != "restricted":
            problems.append(f"{overlay}: namespace {ns['metadata']['name']} does not enforce the restricted profile")
    workloads = [d for d in docs if d["kind"] in WORKLOADS]
    if len(by_kind.get("Deployment", [])) != 5:
        problems.append(f"{overlay}: expected 5 Deployments (four services, HTTP), found {len(by_kind.get('Deployment', []))}")
    if not by_kind.get("Job"):
        problems.append(f"{overlay}: no migration Job")
    for doc in workloads:
        pod = pod_spec(doc)
        pod_sc = pod.get("securityContext", {})
        if pod_sc.get("runAsNonRoot") is not True:
            problems.append(f"{overlay}: {doc['kind']} {doc['metadata']['name']}: pod runAsNonRoot is not true")
        if pod.get("automountServiceAccountToken") is not False:
            problems.append(f"{overlay}: {doc['kind']} {doc['metadata']['name']}: service account token mounted")
        containers = pod.get("initContainers", []) + pod.get("containers", [])
        if not containers:
            problems.append(f"{overlay}: {doc['kind']} {doc['metadata']['name']}: no containers")
        for container in containers:
            where = f"{overlay}: {doc['kind']} {doc['metadata']['name']} container {container['name']}"
            problems += container_problems(where, doc["kind"], pod, container, http=is_http(doc))
    for deployment in by_kind.get("Deployment", []):
        name = deployment["metadata"]["name"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        if not any(selects({"matchLabels": s["spec"]["selector"]}, labels) for s in by_kind.get("Service", [])):
            problems.append(f"{overlay}: Deployment {name}: no Service selects it")
        if not any(selects(p["spec"]["selector"], labels) for p in by_kind.get("PodDisruptionBudget", [])):
            problems.append(f"{overlay}: Deployment {name}: no PodDisruptionBudget")
        hpas = [h for h in by_kind.get("HorizontalPodAutoscaler", []) if h["spec"]["scaleTargetRef"]["name"] == name]
        if overlay == "prod" and not hpas:
            problems.append(f"{overlay}: Deployment {name}: no HorizontalPodAutoscaler")
    if not by_kind.get("NetworkPolicy"):
        problems.append(f"{overlay}: no NetworkPolicy")
    problems += install_first_problems(overlay, docs)
    problems += trust_problems(overlay, docs)
    problems += config_map_reference_problems(overlay, docs)
    return problems


def config_map_reference_problems(overlay, docs):
    """Every ConfigMap a workload mounts or reads is rendered in the workload's namespace, under
    the (hashed) name it refers to: a generator outside the namespace leaves the plain name behind."""
    present = {(d["metadata"].get("namespace"), d["metadata"]["name"]) for d in docs if d["kind"] == "ConfigMap"}
    problems = []
    for doc in docs:
        if doc["kind"] not in WORKLOADS:
            continue
        pod = pod_spec(doc)
        names = [v["configMap"]["name"] for v in pod.get("volumes", []) if "configMap" in v]
        for container in pod.get("initContainers", []) + pod.get("containers", []):
            names += [e["configMapRef"]["name"] for e in container.get("envFrom", []) if "configMapRef" in e]
        namespace = doc["metadata"].get("namespace")
        for name in names:
            if (namespace, name) not in present:
                problems.append(f"{overlay}: {doc['kind']} {doc['metadata']['name']}: ConfigMap {name} is not in namespace {namespace}")
    return problems


def settings(docs):
    maps = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("gridloop-settings")]
    return maps[0].get("data", {}) if maps else {}


def mounted(pod, container, secret):
    """Where `container` mounts a volume of `secret`, or None."""
    volumes = {v["name"] for v in pod.get("volumes", []) if v.get("secret", {}).get("secretName") == secret}
    paths = [m["mountPath"] for m in container.get("volumeMounts", []) if m["name"] in volumes]
    return paths[0] if paths else None


def trust_problems(overlay, docs):
    """gRPC is TLS, or plaintext is allowed explicitly (never in prod); tokens can be verified."""
    problems = []
    data = settings(docs)
    tls = "GRIDLOOP_TLS_CERT" in data and "GRIDLOOP_TLS_KEY" in data
    plaintext = data.get("GRIDLOOP_ALLOW_PLAINTEXT") == "true"
    if not tls and not plaintext:
        problems.append(f"{overlay}: gRPC listens on 0.0.0.0 without TLS and without GRIDLOOP_ALLOW_PLAINTEXT: it would not start")
    if overlay == "prod" and (plaintext or not tls):
        problems.append(f"{overlay}: prod must serve gRPC over TLS (GRIDLOOP_TLS_CERT/KEY, no GRIDLOOP_ALLOW_PLAINTEXT)")
    provider = any(name in data for name in IDENTITY_PROVIDER)
    for deployment in (d for d in docs if d["kind"] == "Deployment"):
        pod = pod_spec(deployment)
        container = pod["containers"][0]
        where = f"{overlay}: Deployment {deployment['metadata']['name']}"
        if tls:
            certs = mounted(pod, container, SECRET_TLS)
            if certs is None or not data["GRIDLOOP_TLS_CERT"].startswith(certs + "/"):
                problems.append(f"{where}: the TLS certificate is not mounted from secret {SECRET_TLS}")
        key_dir = mounted(pod, container, SECRET_SIGNING_KEY)
        if key_dir != data.get("GRIDLOOP_DATA_DIR", "./gridloop-data") + "/auth" and not provider:
            problems.append(f"{where}: no identity provider and no signing key mounted at GRIDLOOP_DATA_DIR/auth")
        if deployment["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component") in VAULT_COMPONENTS:
            problems += master_key_problems(where, pod, container)
    return problems


def master_key_problems(where, pod, container):
    """GRIDLOOP_MASTER_KEY_FILE names a file of the mounted gridloop-master-key Secret."""
    env = {e["name"]: e for e in container.get("env", [])}
    path = env.get("GRIDLOOP_MASTER_KEY_FILE", {}).get("value", "")
    key_dir = mounted(pod, container, SECRET_MASTER_KEY)
    if key_dir is None or not path.startswith(key_dir + "/"):
        return [f"{where}: GRIDLOOP_MASTER_KEY_FILE is not a file of the mounted secret {SECRET_MASTER_KEY}"]
    return []


def install_first_problems(overlay, docs):
    """The migration Job is applied alone first (`-l gridloop.io/install-first=true`): what it needs must be too."""
    first = {(d["kind"], d["metadata"]["name"]) for d in docs if d["metadata"].get("labels", {}).get(FIRST) == "true"}
    problems = []
    for job in (d for d in docs if d["kind"] == "Job"):
        pod = pod_spec(job)
        needed = [("Job", job["metadata"]["name"]), ("Namespace", job["metadata"].get("namespace"))]
        needed.append(("ServiceAccount", pod.get("serviceAccountName", "default")))
        needed += [("ConfigMap", v["configMap"]["name"]) for v in pod.get("volumes", []) if "configMap" in v]
        for container in pod["containers"]:
            needed += [("ConfigMap", e["configMapRef"]["name"]) for e in container.get("envFrom", []) if "configMapRef" in e]
        egress = [d for d in docs if d["kind"] == "NetworkPolicy" and "Egress" in d["spec"].get("policyTypes", [])]
        labels = pod_spec_labels(job)
        needed += [("NetworkPolicy", p["metadata"]["name"]) for p in egress if selects(p["spec"]["podSelector"], labels)]
        for kind, name in needed:
            if (kind, name) not in first:
                problems.append(f"{overlay}: {kind} {name} is needed by Job {job['metadata']['name']} but not labelled {FIRST}")
    return problems


def pod_spec_labels(doc):
    return doc["spec"]["template"]["metadata"].get("labels", {})


def deps_problems(directory):
    problems = []
    with open(f"{directory}/postgres-cluster.yaml", encoding="utf-8") as f:
        pg = [d for d in yaml.safe_load_all(f) if d]
    clusters = [d for d in pg if d["apiVersion"] == "postgresql.cnpg.io/v1" and d["kind"] == "Cluster"]
    if len(clusters) != 1:
        problems.append("postgres-cluster.yaml: expected one CloudNativePG Cluster")
    for cluster in clusters:
        if cluster["spec"].get("instances") != 3:
            problems.append("postgres-cluster.yaml: the Cluster must have 3 instances")
        if f"{cluster['metadata']['name']}-app" != SECRET_DATABASE[0]:
            problems.append("postgres-cluster.yaml: the Cluster's app secret is not the one the services read")
        if cluster["spec"].get("bootstrap", {}).get("initdb", {}).get("database") != "app":
            problems.append("postgres-cluster.yaml: initdb database is not `app`")
    with open(f"{directory}/nats-values.yaml", encoding="utf-8") as f:
        nats = yaml.safe_load(f)["config"]
    if nats.get("cluster", {}).get("enabled") is not True or nats["cluster"].get("replicas") != 3:
        problems.append("nats-values.yaml: not a 3-node cluster")
    jetstream = nats.get("jetstream", {})
    if jetstream.get("enabled") is not True or jetstream.get("fileStore", {}).get("enabled") is not True:
        problems.append("nats-values.yaml: JetStream with file storage is not enabled")
    if jetstream.get("merge", {}).get("sync_interval") != "always":
        problems.append("nats-values.yaml: sync_interval is not `always`")
    with open(f"{directory}/nats-values.yaml", encoding="utf-8") as f:
        values = yaml.safe_load(f)
    if values["config"].get("merge", {}).get("$include") != "../gridloop-nats/accounts.conf":
        problems.append("nats-values.yaml: the users of deploy/nats/accounts.conf are not included")
    with open(f"{directory}/../../nats/accounts.conf", encoding="utf-8") as f:
        accounts = f.read()
    env = values.get("container", {}).get("env", {})
    for variable in sorted(set(re.findall(r"\$(GRIDLOOP_NATS_\w+_PASSWORD)", accounts))):
        ref = env.get(variable, {}).get("valueFrom", {}).get("secretKeyRef", {})
        if ref.get("name") != "nats-gridloop-users":
            problems.append(f"nats-values.yaml: {variable}, which accounts.conf reads, is not from secret nats-gridloop-users")
    return problems


def breakages(docs):
    """Copies of `docs`, each broken in one way the checker must report."""

    def first(kind):
        return next(i for i, d in enumerate(docs) if d["kind"] == kind)

    def broken(kind, change):
        copied = copy.deepcopy(docs)
        change(pod_spec(copied[first(kind)])["containers"][0])
        return copied

    yield "no readinessProbe", broken("Deployment", lambda c: c.pop("readinessProbe"))

    def broken_http(change):
        copied = copy.deepcopy(docs)
        change(pod_spec(next(d for d in copied if is_http(d)))["containers"][0])
        return copied

    yield "HTTP readiness not /readyz", broken_http(lambda c: c["readinessProbe"]["httpGet"].update(path="/healthz"))
    yield "database credentials on the HTTP server", broken_http(
        lambda c: c["env"].append({"name": "GRIDLOOP_DATABASE_URL", "value": "postgres://"})
    )
    yield "probe on the API port", broken("Deployment", lambda c: c["livenessProbe"]["grpc"].update(port=50051))
    def inline_password(container):
        env = next(e for e in container["env"] if e["name"] == "GRIDLOOP_NATS_PASSWORD")
        env.pop("valueFrom")
        env["value"] = "written-into-the-manifest"

    yield "NATS password inline", broken("Job", inline_password)
    yield "no signing key", broken("Deployment", lambda c: c.update(volumeMounts=c["volumeMounts"][:1]))
    def without_master_key(container):
        container["env"] = [e for e in container["env"] if e["name"] != "GRIDLOOP_MASTER_KEY_FILE"]

    yield "no master key", broken("Deployment", without_master_key)
    yield "no livenessProbe", broken("Deployment", lambda c: c.pop("livenessProbe"))
    yield "writable root", broken("Deployment", lambda c: c["securityContext"].update(readOnlyRootFilesystem=False))
    yield "escalation", broken("Job", lambda c: c["securityContext"].pop("allowPrivilegeEscalation"))
    yield "capabilities kept", broken("Deployment", lambda c: c["securityContext"]["capabilities"].update(drop=[]))
    yield "no memory limit", broken("Job", lambda c: c["resources"]["limits"].pop("memory"))
    yield "no requests", broken("Deployment", lambda c: c["resources"].pop("requests"))
    without_pdb = [d for d in docs if d["kind"] != "PodDisruptionBudget"]
    yield "no PodDisruptionBudget", without_pdb
    unlabelled = copy.deepcopy(docs)
    unlabelled[first("ConfigMap")]["metadata"]["labels"].pop(FIRST)
    yield "a ConfigMap the Job needs applied late", unlabelled
    exposed = copy.deepcopy(docs)
    for doc in exposed:
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"].startswith("gridloop-settings"):
            for name in ("GRIDLOOP_TLS_CERT", "GRIDLOOP_TLS_KEY", "GRIDLOOP_ALLOW_PLAINTEXT"):
                doc["data"].pop(name, None)
    yield "plaintext on a public address", exposed
    elsewhere = copy.deepcopy(docs)
    elsewhere[first("ConfigMap")]["metadata"]["namespace"] = "default"
    yield "a ConfigMap outside the services' namespace", elsewhere


def main(argv):
    deps = None
    if "--deps" in argv:
        i = argv.index("--deps")
        deps = argv[i + 1]
        argv = argv[:i] + argv[i + 2 :]
    problems = []
    for arg in argv:
        overlay, path = arg.split("=", 1)
        with open(path, encoding="utf-8") as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        for what, broken_docs in breakages(docs):
            if not overlay_problems(overlay, broken_docs):
                problems.append(f"{overlay}: the checker missed a breakage: {what}")
        found = overlay_problems(overlay, docs)
        problems += found
        containers = sum(len(pod_spec(d).get("containers", [])) for d in docs if d["kind"] in WORKLOADS)
        if not found:
            print(f"check: {overlay}: {containers} containers in {len(docs)} resources pass")
    if deps:
        found = deps_problems(deps)
        problems += found
        if not found:
            print("check: deps: CloudNativePG Cluster and NATS values pass")
    for problem in problems:
        print(f"check: {problem}", file=sys.stderr)
    return 1 if problems or not argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
