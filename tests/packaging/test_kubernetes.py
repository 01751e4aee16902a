#!/usr/bin/python3
"""packaging/kubernetes/: the manifests parse, and hold what the tool relies on (kubectl is not available
here, so this reads them as YAML): a CronJob of an Indexed Job whose completions, parallelism and --shards
agree, concurrencyPolicy Forbid, the MySQL password and the MongoDB URL read from files of a mounted
Secret, resources, a non-root read-only container, and a ConfigMap whose config.toml the loader accepts.

Usage: test_kubernetes.py BINARY SOURCE_DIR
"""

import os
import subprocess
import sys
import tempfile

import yaml

binary, src = sys.argv[1], sys.argv[2]
kdir = os.path.join(src, "packaging", "kubernetes")
failures = []


def fail(what):
    failures.append(what)
    print("FAIL: " + what, file=sys.stderr)


def check(cond, what):
    if not cond:
        fail(what)
    return cond


def load(name):
    with open(os.path.join(kdir, name)) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    check(len(docs) == 1, "%s: one document, found %d" % (name, len(docs)))
    return docs[0]


def dig(doc, *path):
    for p in path:
        if isinstance(doc, dict):
            doc = doc.get(p)
        elif isinstance(doc, list) and isinstance(p, int) and p < len(doc):
            doc = doc[p]
        else:
            return None
    return doc


cron = load("cronjob.yaml")
config_map = load("configmap.yaml")
secret = load("secret.example.yaml")
kustomization = load("kustomization.yaml")

# The CronJob and its Indexed Job.
check(cron.get("apiVersion") == "batch/v1" and cron.get("kind") == "CronJob", "cronjob.yaml is a batch/v1 CronJob")
check(dig(cron, "spec", "concurrencyPolicy") == "Forbid", "concurrencyPolicy: Forbid")
check(isinstance(dig(cron, "spec", "schedule"), str), "a schedule")
job = dig(cron, "spec", "jobTemplate", "spec") or {}
check(job.get("completionMode") == "Indexed", "completionMode: Indexed (pods get JOB_COMPLETION_INDEX)")
completions, parallelism = job.get("completions"), job.get("parallelism")
check(isinstance(completions, int) and completions >= 1, "completions is a positive number")
check(completions == parallelism, "completions (%s) = parallelism (%s): every shard runs at once" % (completions, parallelism))
pod = dig(job, "template", "spec") or {}
check(pod.get("restartPolicy") in ("Never", "OnFailure"), "restartPolicy Never or OnFailure")
if job.get("podFailurePolicy"):
    check(pod.get("restartPolicy") == "Never", "podFailurePolicy needs restartPolicy: Never")
    codes = set()
    for rule in job["podFailurePolicy"].get("rules", []):
        if rule.get("action") == "FailJob":
            codes.update(dig(rule, "onExitCodes", "values") or [])
    check({64, 78} <= codes, "configuration and usage errors (78, 64) fail the Job instead of retrying: %s" % codes)
    check(75 not in codes and 3 not in codes, "exit 75 and 3 are retried, not fatal")
containers = pod.get("containers") or []
check(len(containers) == 1, "one container")
c = containers[0] if containers else {}
if job.get("podFailurePolicy"):
    for rule in job["podFailurePolicy"].get("rules", []):
        name = dig(rule, "onExitCodes", "containerName")
        check(name in (None, c.get("name")), "podFailurePolicy names the container %s" % c.get("name"))
args = c.get("args") or []
check("sync" in args, "the container runs `sync`")
check("--shards" in args, "the container runs `sync --shards N`")
if "--shards" in args:
    n = args[args.index("--shards") + 1]
    check(str(completions) == n, "--shards %s equals completions %s" % (n, completions))
check("--shard" not in args, "--shard I/N is not fixed in a template shared by every index")
check(not any("password" in a.lower() or "@" in a for a in args), "no secret in argv: %s" % args)

env = {e.get("name"): e for e in c.get("env") or []}
mounts = {m.get("name"): m for m in c.get("volumeMounts") or []}
volumes = {v.get("name"): v for v in pod.get("volumes") or []}


def secret_file(var):
    """The (volume, key) of the Secret file an environment variable names, or fails."""
    e = env.get(var)
    if not check(e is not None and isinstance(e.get("value"), str), "%s is set to a path" % var):
        return None
    path = e["value"]
    for name, m in mounts.items():
        mp = m.get("mountPath", "").rstrip("/") + "/"
        if path.startswith(mp):
            v = volumes.get(name, {})
            if not check("secret" in v, "%s (%s) is in a Secret volume" % (var, path)):
                return None
            check(m.get("readOnly") is True, "the Secret is mounted read-only")
            return dig(v, "secret", "secretName"), path[len(mp):]
    fail("%s: %s is not under a mounted volume" % (var, path))
    return None


for var in ("MYSQL_PASSWORD_FILE", "MONGODB_URL_FILE"):
    found = secret_file(var)
    if found:
        name, key = found
        check(name == dig(secret, "metadata", "name"), "%s: the Secret %s is the one secret.example.yaml makes" % (var, name))
        check(key in (secret.get("stringData") or secret.get("data") or {}), "%s: the Secret has the key %s" % (var, key))
check("MYSQL_PASSWORD" not in env and "MONGODB_URL" not in env, "no secret as a plain environment value")
check(not any("valueFrom" in e and "secretKeyRef" in e["valueFrom"] for e in env.values()),
      "secrets as files, not as environment values from secretKeyRef")
mode = dig(volumes.get("secrets", {}), "secret", "defaultMode")
check(mode is not None and mode & 0o007 == 0, "the Secret's files are not world-readable (defaultMode %s)" % oct(mode or 0))

res = c.get("resources") or {}
for kind in ("requests", "limits"):
    for what in ("cpu", "memory"):
        check(dig(res, kind, what) is not None, "resources.%s.%s" % (kind, what))

psc, csc = pod.get("securityContext") or {}, c.get("securityContext") or {}
check(psc.get("runAsNonRoot") is True or csc.get("runAsNonRoot") is True, "runAsNonRoot")
uid = csc.get("runAsUser", psc.get("runAsUser"))
check(isinstance(uid, int) and uid != 0, "a non-root runAsUser")
check(csc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem")
check(csc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation: false")
check("ALL" in (dig(csc, "capabilities", "drop") or []), "every capability dropped")
check(psc.get("fsGroup") == uid or mode is not None and mode & 0o004, "the Secret's files are readable by the pod's user")

# The configuration: --config names config.toml of the ConfigMap, whose TOML the loader accepts.
check("--config" in args, "--config names the mounted configuration")
cfg_path = args[args.index("--config") + 1] if "--config" in args else ""
cm_name = dig(volumes.get("config", {}), "configMap", "name")
check(cm_name == dig(config_map, "metadata", "name"), "the config volume is the ConfigMap of configmap.yaml")
cm_mount = mounts.get("config", {}).get("mountPath", "").rstrip("/")
check(cfg_path.startswith(cm_mount + "/"), "--config %s is inside the ConfigMap's mount %s" % (cfg_path, cm_mount))
toml_text = (config_map.get("data") or {}).get(os.path.basename(cfg_path))
if check(isinstance(toml_text, str), "the ConfigMap has the key %s" % os.path.basename(cfg_path)):
    check("password" not in toml_text.lower().replace("password_file", ""), "no password in the ConfigMap")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "config.toml")
        pw = os.path.join(tmp, "mysql_password")
        with open(cfg, "w") as f:
            f.write(toml_text)
        with open(pw, "w") as f:
            f.write("secret\n")
        # Without a server the loader's run ends at the MySQL connection (69); a configuration error
        # would be 78 before that.
        r = subprocess.run([binary, "--config", cfg, "--mysql-host", "127.0.0.1", "--mysql-port", "1",
                            "--mysql-connect-timeout", "2s", "tables"],
                           env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "MYSQL_PASSWORD_FILE": pw},
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 69, "the ConfigMap's config.toml is accepted (exit %d, expected 69): %s"
              % (r.returncode, r.stderr.strip()))

check(set(kustomization.get("resources") or []) >= {"cronjob.yaml", "configmap.yaml"},
      "kustomization.yaml lists the CronJob and the ConfigMap")
check("secret.example.yaml" not in (kustomization.get("resources") or []), "the example Secret is not applied by kustomize")

with open(os.path.join(kdir, "Dockerfile")) as f:
    dockerfile = f.read()
check("USER 65532" in dockerfile, "the image runs as the same unprivileged user as the pod")

if failures:
    print("test_kubernetes: %d failure(s)" % len(failures), file=sys.stderr)
    sys.exit(1)
print("test_kubernetes: all checks passed (%d shards)" % completions)
