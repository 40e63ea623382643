"""Test oracle for the C MLflow client (test-only; not part of any program).

The C integration test logs runs, params, metrics, tags, artifacts and
registry entries through our client, writes what it logged to a manifest
(JSON), and runs this script. The script reads everything back with the
official `mlflow` Python client and checks that it matches exactly: values,
steps, timestamps, nesting, artifact bytes, versions and aliases.

Usage: mlflow_oracle.py MANIFEST.json   (MLFLOW_TRACKING_URI from the environment)
Exit status 0 when everything matches; otherwise one line per mismatch.
"""

import filecmp
import json
import math
import os
import sys
import tempfile

from mlflow import MlflowClient
from mlflow.entities import Metric
from mlflow.artifacts import download_artifacts
from mlflow.exceptions import MlflowException

problems = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        problems.append(what)


def as_float(v):
    """The manifest writes non-finite values as protobuf JSON strings."""
    if isinstance(v, str):
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[v]
    return float(v)


def same_float(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b  # exact: both sides must carry the same double


def check_run(client, exp_id, want):
    run = client.get_run(want["run_id"])
    rid = want["run_id"]
    check(run.info.experiment_id == exp_id, f"{rid}: experiment {run.info.experiment_id}")
    check(run.info.run_name == want["name"], f"{rid}: name {run.info.run_name!r}")
    check(run.info.status == want["status"], f"{rid}: status {run.info.status}")
    check(run.info.end_time is not None, f"{rid}: no end time")
    check(run.data.params == want["params"],
          f"{rid}: params differ: extra={set(run.data.params) - set(want['params'])} "
          f"missing={set(want['params']) - set(run.data.params)} "
          f"changed={[k for k in want['params'] if run.data.params.get(k) != want['params'][k]][:5]}")
    for k, v in want["tags"].items():
        check(run.data.tags.get(k) == v, f"{rid}: tag {k!r} = {run.data.tags.get(k)!r}, want {v!r}")
    parent = want.get("parent")
    if parent:
        check(run.data.tags.get("mlflow.parentRunId") == parent, f"{rid}: parent tag")
        kids = client.search_runs([exp_id], filter_string=f"tags.mlflow.parentRunId = '{parent}'")
        check(rid in [r.info.run_id for r in kids], f"{rid}: not found as a child of {parent}")
    for key, points in want["metrics"].items():
        hist = client.get_metric_history(rid, key)
        got = sorted((m.step, m.timestamp, m.value) for m in hist)
        exp = sorted((p[0], p[1], as_float(p[2])) for p in points)
        check(len(got) == len(exp), f"{rid}: metric {key}: {len(got)} points, want {len(exp)}")
        for g, e in zip(got, exp):
            if g[0] != e[0] or g[1] != e[1] or not same_float(g[2], e[2]):
                problems.append(f"{rid}: metric {key}: got {g}, want {e}")
                break
    check(set(run.data.metrics) == set(want["metrics"]),
          f"{rid}: metric keys {sorted(run.data.metrics)} != {sorted(want['metrics'])}")
    # Values the server transforms (NaN, infinities): the official client,
    # sending the same values to a scratch run, must get the same history.
    sent = want.get("sent_metrics", {})
    if sent:
        scratch = client.create_run(exp_id, run_name="oracle-scratch")
        sid = scratch.info.run_id
        client.log_batch(sid, metrics=[Metric(k, as_float(p[2]), p[1], p[0])
                                       for k, pts in sent.items() for p in pts])
        for key in sent:
            ours = sorted((m.step, m.timestamp, m.value) for m in client.get_metric_history(rid, key))
            theirs = sorted((m.step, m.timestamp, m.value) for m in client.get_metric_history(sid, key))
            check(len(ours) == len(theirs) and
                  all(a[:2] == b[:2] and same_float(a[2], b[2]) for a, b in zip(ours, theirs)),
                  f"{rid}: metric {key}: ours {ours} != python client's {theirs}")
        client.delete_run(sid)


def check_artifacts(client, want):
    rid = want["run_id"]
    for listing in want.get("listings", []):
        got = sorted((f.path, f.is_dir) for f in client.list_artifacts(rid, listing["path"] or None))
        exp = sorted((e["path"], e["is_dir"]) for e in listing["entries"])
        check(got == exp, f"{rid}: listing of {listing['path']!r}: {got} != {exp}")
    with tempfile.TemporaryDirectory() as tmp:
        for a in want.get("artifacts", []):
            local = download_artifacts(run_id=rid, artifact_path=a["path"], dst_path=tmp)
            check(os.path.isfile(local), f"{rid}: artifact {a['path']} missing")
            if os.path.isfile(local):
                check(filecmp.cmp(local, a["local"], shallow=False),
                      f"{rid}: artifact {a['path']} differs from {a['local']}")


def check_registry(client, want):
    name = want["name"]
    rm = client.get_registered_model(name)
    check(rm.name == name, f"model name {rm.name}")
    for v in want["versions"]:
        mv = client.get_model_version(name, v["version"])
        check(mv.status == "READY", f"{name} v{v['version']}: status {mv.status}")
        check(mv.source == v["source"], f"{name} v{v['version']}: source {mv.source!r} != {v['source']!r}")
        check(mv.run_id == v["run_id"], f"{name} v{v['version']}: run {mv.run_id}")
        for k, val in v["tags"].items():
            check(mv.tags.get(k) == val, f"{name} v{v['version']}: tag {k} = {mv.tags.get(k)!r}")
    found = sorted(int(mv.version) for mv in client.search_model_versions(f"name='{name}'"))
    check(found == sorted(int(v) for v in want["live_versions"]),
          f"{name}: versions {found} != {want['live_versions']}")
    for alias, version in want["aliases"].items():
        mv = client.get_model_version_by_alias(name, alias)
        check(mv.version == version, f"{name}: alias {alias} -> {mv.version}, want {version}")
    check(dict(rm.aliases) == want["aliases"], f"{name}: aliases {dict(rm.aliases)} != {want['aliases']}")
    for alias in want.get("gone_aliases", []):
        try:
            client.get_model_version_by_alias(name, alias)
            problems.append(f"{name}: alias {alias} still resolves")
        except MlflowException as e:
            # MLflow 3 reports a missing alias as INVALID_PARAMETER_VALUE "... not found."
            check("not found" in e.message, f"{name}: alias {alias}: {e.error_code} {e.message}")


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        m = json.load(f)
    client = MlflowClient()
    exp = client.get_experiment_by_name(m["experiment"]["name"])
    check(exp is not None and exp.experiment_id == m["experiment"]["id"], "experiment id")
    for run in m["runs"]:
        check_run(client, m["experiment"]["id"], run)
        check_artifacts(client, run)
    if "registry" in m:
        check_registry(client, m["registry"])
    for p in problems:
        print("MISMATCH", p)
    print(f"oracle: {len(m['runs'])} runs, {checks} checks, {len(problems)} mismatches")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
