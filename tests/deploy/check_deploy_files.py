#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Checks that the deployment assets under deploy/ parse and agree with each other and with
# config/kyc-bridge.toml: ports, probe paths, grace periods, secrets as files, the hardening
# each target promises, and the runtime package list. No Docker engine or cluster is needed.
# Usage: check_deploy_files.py SOURCE_ROOT [--binary PATH_TO_KYC_BRIDGE]
# With --binary (and objdump, dpkg), every NEEDED library's Debian package must be listed in
# deploy/runtime-packages.txt. Exit 0 all passed, 1 a check failed, 77 (skipped) without
# tomllib or yaml.
import argparse
import json
import pathlib
import re
import shlex
import shutil
import subprocess
import sys

try:
    import tomllib  # Python 3.11 (Debian 12)
    import yaml  # Debian's python3-yaml
except ImportError as missing:
    print(f"check_deploy_files: skipped: {missing}", file=sys.stderr)
    sys.exit(77)  # meson's "skipped"

failures = []
source_root = pathlib.Path(".")


def check(condition, where, message):
    """Records a failure unless `condition`; `where` is a path or a name. Returns `condition`."""
    if not condition:
        if isinstance(where, pathlib.Path) and where.is_relative_to(source_root):
            where = where.relative_to(source_root)
        failures.append(f"{where}: {message}")
    return condition


def port_of(listen):
    """The port of a HOST:PORT string such as http.listen, as an int."""
    return int(listen.rsplit(":", 1)[1])


def flat_keys(table, prefix=""):
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        # librdkafka's properties pass through unchecked, so any name is valid there.
        if isinstance(value, dict) and dotted != "kafka.properties":
            yield from flat_keys(value, dotted + ".")
        else:
            yield dotted


def load_yaml_files(deploy):
    """Every *.yaml/*.yml under deploy/, multi-document ones included: {path: [documents]}."""
    documents = {}
    for path in sorted([*deploy.rglob("*.yaml"), *deploy.rglob("*.yml")]):
        try:
            with path.open() as stream:
                documents[path] = [d for d in yaml.safe_load_all(stream) if d is not None]
        except yaml.YAMLError as error:
            check(False, path, f"does not parse as YAML: {error}")
    return documents


# --- Dockerfile ------------------------------------------------------------------------------

def dockerfile_stages(text):
    """The instructions of each stage, continuation lines joined: [[(INSTRUCTION, args)]]."""
    stages, logical = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or not stripped:
            continue
        logical += stripped[:-1] + " " if stripped.endswith("\\") else stripped
        if stripped.endswith("\\"):
            continue
        instruction, _, args = logical.partition(" ")
        logical = ""
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), args.strip()))
    return stages


def marked_packages(text, where):
    """The packages between the runtime-packages markers: one install line, one name a line."""
    block = re.search(r"^# runtime-packages-begin\n(.*?)^# runtime-packages-end$", text,
                      re.MULTILINE | re.DOTALL)
    if not check(block, where, "no '# runtime-packages-begin' ... '-end' block"):
        return []
    body = block.group(1)
    check(body.count("apt-get install") == 1, where,
          "the runtime block must hold exactly one apt-get install")
    names = [line.strip().rstrip("\\").strip() for line in body.splitlines()]
    return [n for n in names if re.fullmatch(r"[a-z0-9][a-z0-9.+-]+", n)]


def listed_packages(path):
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def check_dockerfile(root, config):
    where = root / "deploy/docker/Dockerfile"
    text = where.read_text()
    stages = dockerfile_stages(text)
    if not check(len(stages) >= 2, where, "expected a build stage and a runtime stage"):
        return {}
    check(stages[0][0][1].split()[0] == "debian:12", where, "the build stage must be debian:12")
    runtime = stages[-1]
    check(runtime[0][1] == "debian:12-slim", where, "the runtime stage must be debian:12-slim")
    found = {}
    for instruction, args in runtime:
        found.setdefault(instruction, []).append(args)

    env = {}
    for args in found.get("ENV", []):
        env.update(item.split("=", 1) for item in shlex.split(args) if "=" in item)
    listen = env.get("KYC_BRIDGE_HTTP_LISTEN", config["http"]["listen"])
    check(listen.startswith("0.0.0.0:"), where,
          f"KYC_BRIDGE_HTTP_LISTEN={listen}: the port must be reachable from outside")
    expose = [int(p.split("/")[0]) for args in found.get("EXPOSE", []) for p in args.split()]
    check(expose == [port_of(listen)], where, f"EXPOSE {expose} is not the listen port {listen}")

    health = " ".join(found.get("HEALTHCHECK", []))
    url = re.search(r"curl -fsS https?://[^/\s:]+:(\d+)(/\S*)", health)
    if check(url, where, "HEALTHCHECK must call curl -fsS http://HOST:PORT/PATH"):
        check(url.group(2) == "/healthz", where, f"HEALTHCHECK calls {url.group(2)}, not /healthz")
        check(int(url.group(1)) == port_of(listen), where,
              f"HEALTHCHECK port {url.group(1)} is not the listen port {listen}")
    check(found.get("USER") == ["10001:10001"], where, "the runtime stage must run as 10001:10001")
    check(found.get("VOLUME") == ["/var/lib/kyc-bridge"], where, "VOLUME /var/lib/kyc-bridge")
    check(env.get("KYC_BRIDGE_STORE_PATH", "").startswith("/var/lib/kyc-bridge/"), where,
          "KYC_BRIDGE_STORE_PATH must be on the volume")
    check(found.get("ENTRYPOINT") == ['["kyc-bridge"]'], where, 'ENTRYPOINT ["kyc-bridge"]')

    packages = marked_packages(text, where)
    listed = listed_packages(root / "deploy/runtime-packages.txt")
    check(len(set(listed)) == len(listed), "deploy/runtime-packages.txt", "lists a name twice")
    check(sorted(packages) == sorted(listed), where,
          f"runtime packages differ from deploy/runtime-packages.txt: only in the Dockerfile "
          f"{sorted(set(packages) - set(listed))}, only in the list {sorted(set(listed) - set(packages))}")
    return env


def owning_package(path):
    """The Debian package of a library file, or None."""
    real = str(pathlib.Path(path).resolve())
    # With merged /usr, dpkg knows some files by /lib/... and others by /usr/lib/....
    for candidate in (real, path, re.sub(r"^/usr/lib/", "/lib/", real)):
        owner = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if owner.returncode == 0:
            return owner.stdout.split(":", 1)[0]
    return None


def check_runtime_packages_cover(root, binary):
    """Each NEEDED library of the built binary comes from a package on the runtime list."""
    where = root / "deploy/runtime-packages.txt"
    if not (shutil.which("objdump") and shutil.which("dpkg") and shutil.which("ldd")):
        print("check_deploy_files: objdump, ldd or dpkg missing: NEEDED libraries not checked")
        return
    listed = set(listed_packages(where))
    needed = re.findall(r"NEEDED\s+(\S+)", subprocess.run(
        ["objdump", "-p", binary], capture_output=True, text=True, check=True).stdout)
    resolved = dict(re.findall(r"^\s*(\S+) => (/\S+)", subprocess.run(
        ["ldd", binary], capture_output=True, text=True).stdout, re.MULTILINE))
    for library in needed:
        # Sanitizer runtimes belong to instrumented test builds, never to the image's binary.
        if re.match(r"lib(asan|ubsan|tsan)\.", library) or library not in resolved:
            continue
        package = owning_package(resolved[library])
        if package is None:
            print(f"check_deploy_files: {library} belongs to no package: not checked")
            continue
        check(package in listed, where, f"{library} (package {package}) is NEEDED but not listed")


# --- Kubernetes ------------------------------------------------------------------------------

def resolve_port(port, container):
    """A probe's or Service's port, a number or a name of one of the container's ports."""
    if isinstance(port, int):
        return port
    named = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    return named.get(port)


def check_kustomize_renders(base, kinds):
    """`kubectl kustomize` (offline) renders the same kinds as the files it lists."""
    if not shutil.which("kubectl"):
        print("check_deploy_files: no kubectl: `kubectl kustomize` not tried")
        return
    rendered = subprocess.run(["kubectl", "kustomize", str(base)], capture_output=True, text=True)
    if check(rendered.returncode == 0, base, f"kubectl kustomize failed: {rendered.stderr.strip()}"):
        got = sorted(d["kind"] for d in yaml.safe_load_all(rendered.stdout) if d)
        check(got == kinds, base, f"kubectl kustomize renders {got}, expected {kinds}")


def check_kubernetes(root, yamls, config, image_env):
    base = root / "deploy/kubernetes"
    kustomization = yaml.safe_load((base / "kustomization.yaml").read_text())
    resources = kustomization.get("resources", [])
    check("secret.example.yaml" not in resources, base / "kustomization.yaml",
          "must not apply the example Secret")
    docs = []
    for resource in resources:
        if check((base / resource).is_file(), base / "kustomization.yaml", f"lists missing {resource}"):
            docs += yamls.get(base / resource, [])
    by_kind = {d["kind"]: d for d in docs}
    check_kustomize_renders(base, sorted(by_kind))
    check("Secret" not in by_kind, base, "no Secret belongs in the applied manifests")
    for kind in ("StatefulSet", "Service", "ConfigMap", "PodDisruptionBudget", "ServiceMonitor"):
        if not check(kind in by_kind, base / "kustomization.yaml", f"no {kind} among its resources"):
            return
    sts, svc, cm = by_kind["StatefulSet"], by_kind["Service"], by_kind["ConfigMap"]
    where = base / "statefulset.yaml"

    embedded = tomllib.loads(cm["data"]["kyc-bridge.toml"])
    known = set(flat_keys(config))
    for key in flat_keys(embedded):
        check(key in known, base / "configmap.yaml", f"{key} is not a key of config/kyc-bridge.toml")
    listen = embedded.get("http", {}).get("listen", "")
    port = port_of(listen) if ":" in listen else None
    check(listen.startswith("0.0.0.0:"), base / "configmap.yaml", f"http.listen {listen!r} "
          "is not reachable by the kubelet's probes")
    # The image's ENV wins over the file: the two must say the same or the file lies.
    for variable, value in (("KYC_BRIDGE_HTTP_LISTEN", listen),
                            ("KYC_BRIDGE_STORE_PATH", embedded.get("store", {}).get("path"))):
        check(image_env.get(variable) in (None, value), base / "configmap.yaml",
              f"the image sets {variable}={image_env.get(variable)}, which overrides {value}")
    check("client_secret" not in embedded.get("auth0", {}), base / "configmap.yaml",
          "auth0.client_secret must not be in a ConfigMap")

    spec = sts["spec"]["template"]["spec"]
    container = next(c for c in spec["containers"] if c["name"] == "kyc-bridge")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = container.get(probe, {}).get("httpGet", {})
        check(get.get("path") == path, where, f"{probe} path {get.get('path')}, not {path}")
        check(resolve_port(get.get("port"), container) == port, where,
              f"{probe} port {get.get('port')} is not http.listen's {port}")
    ports = svc["spec"]["ports"]
    check(svc["spec"].get("clusterIP") == "None", base / "service.yaml", "must be headless")
    check([p["port"] for p in ports] == [port], base / "service.yaml", f"port is not {port}")
    check(all(resolve_port(p.get("targetPort", p["port"]), container) == port for p in ports),
          base / "service.yaml", "targetPort does not reach the container's metrics port")
    check(sts["spec"]["serviceName"] == svc["metadata"]["name"], where, "serviceName is not the Service")
    endpoints = by_kind["ServiceMonitor"]["spec"]["endpoints"]
    check([(e.get("port"), e.get("path")) for e in endpoints] == [(ports[0].get("name"), "/metrics")],
          base / "servicemonitor.yaml", "must scrape the Service's named port at /metrics")
    check(by_kind["PodDisruptionBudget"]["spec"].get("maxUnavailable") == 1, base / "pdb.yaml",
          "maxUnavailable must be 1")

    shutdown = config["daemon"]["shutdown_timeout_s"]
    grace = spec.get("terminationGracePeriodSeconds", 30)
    check(grace > shutdown, where, f"terminationGracePeriodSeconds {grace} <= shutdown_timeout_s {shutdown}")

    pod = spec.get("securityContext", {})
    for key, value in (("runAsNonRoot", True), ("runAsUser", 10001), ("fsGroup", 10001)):
        check(pod.get(key) == value, where, f"pod securityContext.{key} must be {json.dumps(value)}")
    check(pod.get("seccompProfile", {}).get("type") == "RuntimeDefault", where,
          "pod seccompProfile must be RuntimeDefault")
    for c in spec["containers"] + spec.get("initContainers", []):
        context = c.get("securityContext", {})
        check(context.get("readOnlyRootFilesystem") is True, where, f"{c['name']}: readOnlyRootFilesystem")
        check(context.get("allowPrivilegeEscalation") is False, where,
              f"{c['name']}: allowPrivilegeEscalation must be false")
        check("ALL" in context.get("capabilities", {}).get("drop", []), where,
              f"{c['name']}: capabilities must drop ALL")

    resources = container.get("resources", {})
    for part, key in (("requests", "memory"), ("requests", "cpu"), ("limits", "memory")):
        check(key in (resources.get(part) or {}), where, f"resources.{part}.{key} is not set")

    env = {e["name"]: e for e in container.get("env", [])}
    check("value" not in env.get("KYC_BRIDGE_AUTH0_CLIENT_SECRET", {}), where,
          "the client secret must not be an inline env value")
    secret_file = env.get("KYC_BRIDGE_AUTH0_CLIENT_SECRET_FILE", {}).get("value", "")
    mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
    check(str(pathlib.PurePosixPath(secret_file).parent) in mounts, where,
          f"KYC_BRIDGE_AUTH0_CLIENT_SECRET_FILE={secret_file!r} is not on a mounted volume")
    secrets = [v["secret"] for v in spec.get("volumes", []) if "secret" in v]
    check(secrets and all(s.get("defaultMode") == 0o400 for s in secrets), where,
          "the Secret must be a volume with defaultMode 0400")
    store_dir = str(pathlib.PurePosixPath(embedded.get("store", {}).get("path", "")).parent)
    claims = [t["metadata"]["name"] for t in sts["spec"].get("volumeClaimTemplates", [])]
    check(mounts.get(store_dir) in claims, where, f"{store_dir} is not on a volumeClaimTemplate")


# --- Compose ---------------------------------------------------------------------------------

def check_compose(root, yamls, config):
    base = root / "deploy/compose"
    where = base / "compose.yaml"
    compose = yamls[where][0]
    services = compose["services"]
    for name in ("kafka", "kafka-init", "kyc-bridge", "prometheus"):
        check(name in services, where, f"no service {name}")
    bridge = services.get("kyc-bridge", {})
    env = bridge.get("environment", {})
    check("KYC_BRIDGE_AUTH0_CLIENT_SECRET" not in env, where, "the secret must not be inline")
    secret_file = env.get("KYC_BRIDGE_AUTH0_CLIENT_SECRET_FILE", "")
    used = [s if isinstance(s, str) else s["source"] for s in bridge.get("secrets", [])]
    check(secret_file.startswith("/run/secrets/") and secret_file.split("/")[-1] in used, where,
          f"KYC_BRIDGE_AUTH0_CLIENT_SECRET_FILE={secret_file!r} is not one of its Compose secrets")
    for name, secret in compose.get("secrets", {}).items():
        check(set(secret) == {"file"}, where, f"secret {name} must come from a file, not inline")
    build = bridge.get("build", {})
    check((base / build.get("context", ".") / build.get("dockerfile", "Dockerfile")).is_file(),
          where, "kyc-bridge's build context/dockerfile does not exist")
    check(any(str(p).endswith(":9464") for p in bridge.get("ports", [])), where,
          "kyc-bridge must publish 9464")
    check(bridge.get("depends_on", {}).get("kafka-init", {}).get("condition")
          == "service_completed_successfully", where, "kyc-bridge must wait for kafka-init")
    grace = re.fullmatch(r"(\d+)s", str(bridge.get("stop_grace_period", "10s")))
    check(grace and int(grace.group(1)) > config["daemon"]["shutdown_timeout_s"], where,
          "stop_grace_period must exceed daemon.shutdown_timeout_s")
    volumes = [str(v).split(":")[1] for v in bridge.get("volumes", [])]
    check("/var/lib/kyc-bridge" in volumes, where, "no volume on /var/lib/kyc-bridge")

    init_command = " ".join(str(c) for c in services.get("kafka-init", {}).get("command", []))
    for key, topic in config["kafka"].items():
        if key.endswith("_topic"):
            check(topic in init_command, where, f"kafka-init does not create {topic} ({key})")

    for mount in services.get("prometheus", {}).get("volumes", []):
        check((base / mount.split(":")[0]).is_file(), where, f"prometheus mounts missing {mount}")
    scrape = yamls[base / "prometheus.yml"][0]
    job = scrape["scrape_configs"][0]
    check(job["job_name"] == "kyc-bridge", base / "prometheus.yml", "the job must be kyc-bridge")
    check(job["static_configs"][0]["targets"] == ["kyc-bridge:9464"], base / "prometheus.yml",
          "must scrape kyc-bridge:9464")

    emulator = yamls[base / "compose.emulator.yaml"][0]["services"]
    listen = re.search(r"--listen \S+:(\d+)", " ".join(emulator["auth0-emulator"]["command"]))
    url = emulator["kyc-bridge"]["environment"].get("KYC_BRIDGE_AUTH0_BASE_URL", "")
    check(listen and url == f"http://auth0-emulator:{listen.group(1)}", base / "compose.emulator.yaml",
          f"KYC_BRIDGE_AUTH0_BASE_URL {url!r} is not the emulator's --listen port")
    build = emulator["auth0-emulator"]["build"]
    check((base / build["context"] / build["dockerfile"]).is_file(), base / "compose.emulator.yaml",
          "the emulator's dockerfile does not exist")


# --- systemd ---------------------------------------------------------------------------------

REQUIRED_UNIT = {
    "Type": "notify", "NotifyAccess": "main", "WatchdogSec": "30", "DynamicUser": "yes",
    "StateDirectory": "kyc-bridge", "StateDirectoryMode": "0700", "UMask": "0077",
    "ExecStart": "/usr/local/bin/kyc-bridge run --config /etc/kyc-bridge/kyc-bridge.toml",
    "Restart": "on-failure", "RestartPreventExitStatus": "2",
    "LoadCredential": "auth0-client-secret:/etc/kyc-bridge/auth0-client-secret",
    "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
    "NoNewPrivileges": "yes", "PrivateUsers": "yes", "CapabilityBoundingSet": "",
    "AmbientCapabilities": "", "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "SystemCallArchitectures": "native", "LockPersonality": "yes", "MemoryDenyWriteExecute": "yes",
    "RestrictNamespaces": "yes", "RestrictRealtime": "yes", "RestrictSUIDSGID": "yes",
    "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes", "ProtectClock": "yes", "ProtectHostname": "yes",
    "ProtectProc": "invisible", "ProcSubset": "pid", "RemoveIPC": "yes", "DevicePolicy": "closed",
}


def check_systemd(root, config):
    where = root / "deploy/systemd/kyc-bridge.service"
    settings = {}
    for line in where.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    for key, value in REQUIRED_UNIT.items():
        check(value in settings.get(key, []), where, f"{key}={value} is missing")
    filters = settings.get("SystemCallFilter", [])
    check("@system-service" in filters and "~@privileged @resources" in filters, where,
          "SystemCallFilter must allow @system-service and deny ~@privileged @resources")
    environment = dict(e.split("=", 1) for e in settings.get("Environment", []))
    credential = REQUIRED_UNIT["LoadCredential"].split(":")[0]
    # The TOML loader does not expand ${CREDENTIALS_DIRECTORY}: systemd's %d must do it.
    check(environment.get("KYC_BRIDGE_AUTH0_CLIENT_SECRET_FILE") == f"%d/{credential}", where,
          f"KYC_BRIDGE_AUTH0_CLIENT_SECRET_FILE must be %d/{credential}")
    check("KYC_BRIDGE_AUTH0_CLIENT_SECRET" not in environment, where, "no inline secret")
    check(environment.get("KYC_BRIDGE_STORE_PATH", "").startswith("/var/lib/kyc-bridge/"), where,
          "KYC_BRIDGE_STORE_PATH must be in the StateDirectory")
    check("User" not in settings, where, "User= conflicts with DynamicUser=yes")
    stop = settings.get("TimeoutStopSec", ["90"])[-1]
    check(stop.isdigit() and int(stop) > config["daemon"]["shutdown_timeout_s"], where,
          f"TimeoutStopSec {stop} must exceed daemon.shutdown_timeout_s")


def main():
    global source_root
    parser = argparse.ArgumentParser(description="Checks the deployment assets under deploy/.")
    parser.add_argument("root", type=pathlib.Path, help="the source root")
    parser.add_argument("--binary", help="the built kyc-bridge, to check its NEEDED libraries")
    args = parser.parse_args()
    root = source_root = args.root.resolve()
    config = tomllib.loads((root / "config/kyc-bridge.toml").read_text())
    yamls = load_yaml_files(root / "deploy")
    image_env = {}

    def dockerfile():
        image_env.update(check_dockerfile(root, config))

    steps = [("Dockerfile", dockerfile),
             ("systemd unit", lambda: check_systemd(root, config)),
             ("Kubernetes", lambda: check_kubernetes(root, yamls, config, image_env)),
             ("Compose", lambda: check_compose(root, yamls, config))]
    if args.binary:
        steps.append(("NEEDED libraries", lambda: check_runtime_packages_cover(root, args.binary)))
    for name, step in steps:
        try:
            step()
        except (KeyError, IndexError, TypeError, StopIteration, ValueError, AttributeError,
                OSError) as error:
            # A missing file or section is a failed check, not a crash that hides the others.
            check(False, name, f"unexpected structure ({type(error).__name__}: {error})")
    for failure in failures:
        print(f"check_deploy_files: FAIL {failure}", file=sys.stderr)
    if failures:
        return 1
    print(f"check_deploy_files: OK ({len(yamls)} YAML files under deploy/ parse; the Dockerfile, "
          "Compose, Kubernetes and systemd files agree with each other and the config)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
