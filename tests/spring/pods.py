#!/usr/bin/python3
"""Runs the "pods" of each case of tests/spring/cases/ against a real PostgreSQL and compares the
connections PostgreSQL sees with what `poolguard check` predicts for the same manifest.

    /usr/bin/python3 tests/spring/pods.py --jar JAR --port PORT --psql PSQL --poolguard BIN \
        --budget BUDGET --work DIR [--jobs N] [--only NAME] CASEDIR...

A case is a folder with deployment.yaml (one Deployment and the ConfigMaps it refers to) and
expected-connections (the number of connections the real Spring Boot application opens, measured
once and written down: the ground truth). Each replica becomes a "pod": a folder that stands for
the container's file system, with every configMap volume written out at its mountPath under it, a
working directory (the container's workingDir, default "/", under it), the container's
environment (env, envFrom and configMapKeyRef resolved from the ConfigMaps of the manifest, $(VAR)
expanded as the kubelet does) and its command and args. The image is taken to be one whose
entrypoint is `java -jar /app/app.jar` (a `command` replaces it, `args` follow it, as in
Kubernetes); the jar is poolprobe (tests/spring/app). Absolute paths in spring.config.* values
(environment, arguments, -D options, SPRING_APPLICATION_JSON) are re-rooted under the pod's folder.

The pods of a case start together; once every pod's pool holds the maximum HikariCP reports for
it, with threads still waiting for a connection, and the counts in pg_stat_activity (by
application_name) have not changed for a second since, the counts are taken and the pods stopped. Two checks per case:
    ok - NAME: ... PostgreSQL saw R connections ..., expected-connections says E
    ok - NAME: poolguard check predicts P ..., PostgreSQL saw R
The last line is "N passed, N failed". Results also go to WORK/results.tsv.
"""

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import yaml

IMAGE_ENTRYPOINT = ["java", "-jar", "/app/app.jar"]
# Flags of the harness, before the container's own JVM options (which therefore win): a quick
# start matters more than peak speed here, and the heap of a pool of 60 is small.
HARNESS_JVM = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx128m", "-Xss256k"]
SETTLE_SECONDS = 1.0
POLL_SECONDS = 0.25
CASE_TIMEOUT = 90.0


class LayoutError(Exception):
    """The manifest asks for something a pod here cannot be made of."""


def load_case(case_dir):
    path = os.path.join(case_dir, "deployment.yaml")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    docs = [d for d in yaml.safe_load_all(text) if d]
    workloads = [d for d in docs if d.get("kind") in ("Deployment", "StatefulSet")]
    if len(workloads) != 1:
        raise LayoutError(f"'{path}': want exactly one Deployment or StatefulSet, "
                          f"found {len(workloads)}")
    ns = workloads[0].get("metadata", {}).get("namespace", "default")
    configmaps = {}
    for d in docs:
        if d.get("kind") == "ConfigMap":
            m = d.get("metadata", {})
            configmaps[(m.get("namespace", "default"), m["name"])] = d.get("data") or {}
    description = ""
    for line in text.splitlines():
        if line.startswith("# "):
            description = line[2:].strip()
            break
    with open(os.path.join(case_dir, "expected-connections"), encoding="utf-8") as f:
        expected = int(f.read().split()[0])
    return workloads[0], ns, configmaps, description, expected, path


def configmap(configmaps, ns, name, optional):
    data = configmaps.get((ns, name))
    if data is None and not optional:
        raise LayoutError(f"configmap '{ns}/{name}' is not in the manifest")
    return data


def expand(value, env):
    """$(VAR) as the kubelet expands it in env values, command and args; $$ is a literal $."""
    def sub(m):
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env[name] if name in env else m.group(0)
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", sub, value)


def container_env(c, ns, configmaps):
    """The container's environment: envFrom in order (a later source wins), then env (wins)."""
    env = {}
    for src in c.get("envFrom") or []:
        prefix = src.get("prefix", "")
        if "configMapRef" in src:
            ref = src["configMapRef"]
            data = configmap(configmaps, ns, ref["name"], ref.get("optional", False))
            for k, v in (data or {}).items():
                env[prefix + k] = str(v)
        else:
            raise LayoutError(f"envFrom {list(src)} is not supported here (only configMapRef)")
    for e in c.get("env") or []:
        name = e["name"]
        if "value" in e:
            env[name] = expand(str(e["value"]), env)
        elif "valueFrom" in e:
            vf = e["valueFrom"]
            if "configMapKeyRef" not in vf:
                raise LayoutError(f"env '{name}': {list(vf)} is not supported here")
            ref = vf["configMapKeyRef"]
            data = configmap(configmaps, ns, ref["name"], ref.get("optional", False))
            if data is None or ref["key"] not in data:
                if ref.get("optional", False):
                    continue
                raise LayoutError(f"env '{name}': key '{ref['key']}' not in configmap "
                                  f"'{ref['name']}'")
            env[name] = str(data[ref["key"]])
        else:
            env[name] = ""
    return env


def reroot_locations(value, root):
    """A spring.config.* value (a comma-separated list of locations, each maybe 'optional:' and
    'file:') with its absolute paths moved under the pod's folder."""
    out = []
    for item in value.split(","):
        m = re.match(r"^(\s*(?:optional:)?(?:file:)?)(/.*)$", item)
        out.append(m.group(1) + root + m.group(2) if m else item)
    return ",".join(out)


def reroot_options(text, root):
    """-Dspring.config.X=VALUE and --spring.config.X=VALUE inside an option string."""
    return re.sub(r"(-{1,2}D?spring\.config\.[A-Za-z0-9.-]+=)([^\s]+)",
                  lambda m: m.group(1) + reroot_locations(m.group(2), root), text)


def reroot_json(node, root, path=""):
    if isinstance(node, dict):
        return {k: reroot_json(v, root, f"{path}.{k}" if path else k) for k, v in node.items()}
    if isinstance(node, str) and path.lower().startswith("spring.config."):
        return reroot_locations(node, root)
    return node


def reroot_env(env, root):
    for name in list(env):
        if name.upper().startswith("SPRING_CONFIG_"):
            env[name] = reroot_locations(env[name], root)
        elif name in ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS"):
            env[name] = reroot_options(env[name], root)
        elif name == "SPRING_APPLICATION_JSON":
            try:
                env[name] = json.dumps(reroot_json(json.loads(env[name]), root))
            except ValueError:
                pass  # Spring Boot refuses it as it is
    return env


def write_volume(root, mount, volume, ns, configmaps):
    target = root + mount["mountPath"]
    if "configMap" in volume:
        cm = volume["configMap"]
        data = configmap(configmaps, ns, cm["name"], cm.get("optional", False)) or {}
        if cm.get("items"):
            files = {i["path"]: data[i["key"]] for i in cm["items"] if i["key"] in data}
        else:
            files = dict(data)
        if mount.get("subPath"):
            sub = mount["subPath"]
            if sub not in files:
                raise LayoutError(f"volumeMount '{mount['name']}': subPath '{sub}' not in "
                                  f"configmap '{cm['name']}'")
            files = {"": files[sub]}
        for rel, content in files.items():
            path = os.path.join(target, rel) if rel else target
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(str(content))
    elif "emptyDir" in volume:
        os.makedirs(target, exist_ok=True)
    else:
        raise LayoutError(f"volume '{volume['name']}': only configMap and emptyDir are supported")


def lay_out_pod(workload, ns, configmaps, pod_dir, jar):
    """Writes the pod's files; returns (argv, cwd, env) for its process."""
    spec = workload["spec"]["template"]["spec"]
    containers = spec.get("containers") or []
    if len(containers) != 1:
        raise LayoutError(f"want one container, found {len(containers)}")
    c = containers[0]
    root = os.path.join(pod_dir, "root")
    os.makedirs(root, exist_ok=True)
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    for m in c.get("volumeMounts") or []:
        if m["name"] not in volumes:
            raise LayoutError(f"volumeMount '{m['name']}' names no volume")
        write_volume(root, m, volumes[m["name"]], ns, configmaps)
    workdir = c.get("workingDir", "/")
    cwd = root + workdir
    os.makedirs(cwd, exist_ok=True)

    env = container_env(c, ns, configmaps)
    if "command" in c:
        argv = [expand(str(a), env) for a in c["command"]]
        argv += [expand(str(a), env) for a in c.get("args") or []]
    else:
        argv = IMAGE_ENTRYPOINT + [expand(str(a), env) for a in c.get("args") or []]
    if os.path.basename(argv[0]) != "java" or "-jar" not in argv:
        raise LayoutError(f"command {argv!r}: want 'java [options] -jar JAR [args]'")
    j = argv.index("-jar")
    jvm = [reroot_options(a, root) for a in argv[1:j]]
    program = [reroot_options(a, root) for a in argv[j + 2:]]
    env = reroot_env(env, root)
    harness = list(HARNESS_JVM)
    jsa = os.path.join(os.path.dirname(jar), "poolprobe.jsa")
    if os.path.exists(jsa):
        harness.append("-XX:SharedArchiveFile=" + jsa)
    return ["java"] + harness + jvm + ["-jar", jar] + program, cwd, env


def psql_counts(args, names):
    q = ("SELECT application_name, count(*) FROM pg_stat_activity WHERE application_name IN ("
         + ",".join("'" + n.replace("'", "''") + "'" for n in names) + ") GROUP BY 1")
    out = subprocess.run([args.psql, "-h", "127.0.0.1", "-p", str(args.port), "-U", "postgres",
                          "-d", "postgres", "-AtF", "\t", "-c", q], capture_output=True,
                         text=True, check=True).stdout
    counts = {n: 0 for n in names}
    for line in out.splitlines():
        name, count = line.split("\t")
        counts[name] = int(count)
    return counts


def read_status(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def tail(path, n=15):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()[-n:]
    except OSError:
        return ""
    return "".join(f"\n    # {line}" for line in lines)


def stop(procs):
    """Closes each pod's standard input (it exits), then SIGTERM, then SIGKILL."""
    for p in procs:
        p.stdin.close()
    deadline = time.monotonic() + 5
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def measure(args, name, workload, ns, configmaps, case_work):
    """Starts the pods, waits for their pools to stop growing; returns per-pod (count, status)."""
    replicas = workload["spec"].get("replicas", 1)
    pods = []
    for i in range(replicas):
        pod_dir = os.path.join(case_work, f"pod-{i}")
        os.makedirs(pod_dir)
        argv, cwd, env = lay_out_pod(workload, ns, configmaps, pod_dir, args.jar)
        app = f"{name}/{i}"
        status = os.path.join(pod_dir, "status.json")
        full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "POOLPROBE_URL": f"jdbc:postgresql://127.0.0.1:{args.port}/postgres"
                                 f"?ApplicationName={app}",
                "POOLPROBE_USER": "probe", "POOLPROBE_STATUS": status,
                "POOLPROBE_STDIN_WATCH": "1"}
        full.update(env)
        with open(os.path.join(pod_dir, "argv"), "w", encoding="utf-8") as f:
            f.write(json.dumps({"argv": argv, "cwd": cwd, "env": env}, indent=1) + "\n")
        pods.append({"app": app, "argv": argv, "cwd": cwd, "env": full, "status": status,
                     "log": os.path.join(pod_dir, "log")})
    procs = []
    try:
        for p in pods:
            with open(p["log"], "w", encoding="utf-8") as log:
                procs.append(subprocess.Popen(p["argv"], cwd=p["cwd"], env=p["env"],
                                              stdin=subprocess.PIPE, stdout=log,
                                              stderr=subprocess.STDOUT, start_new_session=True))
        names = [p["app"] for p in pods]
        history = []
        deadline = time.monotonic() + CASE_TIMEOUT
        while True:
            for p, proc in zip(pods, procs):
                if proc.poll() is not None:
                    raise LayoutError(f"pod {p['app']} exited with {proc.returncode}"
                                      + tail(p["log"]))
            counts = psql_counts(args, names)
            now = time.monotonic()
            statuses = [read_status(p["status"]) for p in pods]
            # Settled: every pool at the maximum HikariCP says it has, threads still waiting
            # for more, and PostgreSQL's count unchanged for SETTLE_SECONDS since. (Under a
            # loaded machine HikariCP can add no connection for a second and more on its way up,
            # so a count that merely stopped rising is not enough.)
            saturated = all(s and s["awaiting"] > 0 and s["total"] == s["maximumPoolSize"]
                            for s in statuses)
            if not saturated or (history and history[-1][1] != counts):
                history = []
            history.append((now, counts))
            steady = history[0][0] <= now - SETTLE_SECONDS
            if saturated and steady and all(counts[n] > 0 for n in names):
                return [(counts[p["app"]], s) for p, s in zip(pods, statuses)]
            if now > deadline:
                raise LayoutError(f"pools did not settle in {CASE_TIMEOUT:.0f} s: {counts}, "
                                  f"status {statuses}" + tail(pods[0]["log"]))
            time.sleep(POLL_SECONDS)
    finally:
        stop(procs)


def predict(args, manifest, workload):
    r = subprocess.run([args.poolguard, "check", "-o", "json", "--config", args.budget, manifest],
                       capture_output=True, text=True)
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        return None, f"exit {r.returncode}: {r.stderr.strip()}"
    for w in doc.get("workloads", []):
        if w["name"] == workload["metadata"]["name"]:
            return w, ""
    return None, "workload not in the output"


def run_case(args, case_dir):
    name = os.path.basename(os.path.normpath(case_dir))
    lines = []
    row = {"case": name}
    try:
        workload, ns, configmaps, description, expected, manifest = load_case(case_dir)
        row.update(source=description, expected=expected)
        case_work = os.path.join(args.work, name)
        shutil.rmtree(case_work, ignore_errors=True)
        started = time.monotonic()
        pods = measure(args, name, workload, ns, configmaps, case_work)
        row["seconds"] = round(time.monotonic() - started, 1)
    except (LayoutError, OSError, KeyError, subprocess.CalledProcessError, yaml.YAMLError) as e:
        lines.append(f"not ok - {name}: {type(e).__name__}: {e}")
        lines.append(f"not ok - {name}: poolguard check not compared (nothing measured)")
        return lines, row
    counts = [n for n, _ in pods]
    real = sum(counts)
    maxima = [s["maximumPoolSize"] for _, s in pods]
    before = [s["beforeLoad"] for _, s in pods]
    row.update(real=real, perPod=counts, hikariMax=maxima, beforeLoad=before,
               springBoot=pods[0][1]["springBoot"], hikariCP=pods[0][1]["hikariCP"])
    grew = all(b < m or m == 1 for b, m in zip(before, maxima))
    full = counts == maxima
    good = real == expected and full and grew
    per = f"{len(counts)} pods x {counts[0]}" if len(set(counts)) == 1 else f"pods {counts}"
    lines.append(f"{'ok' if good else 'not ok'} - {name}: {description}: PostgreSQL saw {real} "
                 f"connections ({per}; HikariCP maximumPoolSize {maxima[0]}, "
                 f"{before[0]} before load), expected-connections says {expected}"
                 + ("" if full else f" # pools {counts} not at their maximum {maxima}")
                 + ("" if grew else f" # the pool held {before} before load: minimumIdle is "
                    "not below the maximum"))
    w, err = predict(args, manifest, workload)
    if w is None:
        row["predicted"] = None
        lines.append(f"not ok - {name}: poolguard check predicts nothing ({err}), "
                     f"PostgreSQL saw {real}")
    else:
        row["predicted"] = w["connections"]
        lines.append(f"{'ok' if w['connections'] == real else 'not ok'} - {name}: poolguard "
                     f"check predicts {w['connections']} ({w['pods']} pods x "
                     f"{w['poolPerPod']}), PostgreSQL saw {real}")
    return lines, row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jar", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--psql", required=True)
    ap.add_argument("--poolguard", required=True)
    ap.add_argument("--budget", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("cases", nargs="+")
    args = ap.parse_args()
    # Interrupted, the harness ends at once: each pod exits when its standard input closes.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    args.work = os.path.abspath(args.work)
    args.jar = os.path.abspath(args.jar)

    passed = failed = 0
    rows = []
    lock = threading.Lock()

    def one(case_dir):
        nonlocal passed, failed
        try:
            lines, row = run_case(args, case_dir)
        except Exception as e:  # a defect of this harness: the case fails, the others run
            lines = [f"not ok - {case_dir}: harness error {type(e).__name__}: {e}"]
            row = {"case": os.path.basename(os.path.normpath(case_dir))}
        with lock:
            for line in lines:
                print(line, flush=True)
                if line.startswith("ok"):
                    passed += 1
                else:
                    failed += 1
            rows.append(row)

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as ex:
        list(ex.map(one, args.cases))
    cols = ["case", "source", "expected", "real", "perPod", "hikariMax", "beforeLoad",
            "predicted", "seconds", "springBoot", "hikariCP"]
    with open(os.path.join(args.work, "results.tsv"), "w", encoding="utf-8") as f:
        f.write("\t".join(cols) + "\n")
        for row in sorted(rows, key=lambda r: r["case"]):
            f.write("\t".join(str(row.get(c, "")) for c in cols) + "\n")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
