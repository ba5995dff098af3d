#!/usr/bin/env python3
"""Benchmarks of the foundation: start-up time to /healthz, idle memory, token grants per second.

Usage: scripts/bench.sh (builds the release binary, installs wrk if needed, then runs this);
`scripts/bench.sh exec` runs only the test-suite benchmark (50 sequential `exec -- true`), and
`scripts/bench.sh modes` only start → ready and idle RSS in the four modes (ephemeral or an
existing data directory, with the container engine found or turned off).
Every server it starts listens on 127.0.0.1 only, and every load is bounded in time.
"""
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("ONYXIA_LITE_BIN", "target/release/onyxia-lite")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(data_dir, port, fixtures=None, extra_env=None):
    args = [BIN, "serve", "--data-dir", data_dir, "--port", str(port), "--s3-port", "0", "--vault-port", "0"]
    if fixtures:
        args += ["--fixtures", fixtures]
    env = dict(os.environ, **(extra_env or {}))
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def wait_healthy(port, deadline=10.0):
    began = time.perf_counter()
    while time.perf_counter() - began < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.0005)
    raise RuntimeError("server did not become healthy")


def stop(proc):
    proc.terminate()
    proc.wait(timeout=10)


def time_to_healthy(data_dir, fixtures=None, runs=15):
    samples = []
    for _ in range(runs):
        port = free_port()
        t0 = time.perf_counter()
        proc = start(data_dir, port, fixtures)
        wait_healthy(port)
        samples.append((time.perf_counter() - t0) * 1000)
        stop(proc)
    return statistics.median(samples), min(samples), max(samples)


def start_mode(port, data_dir, engine):
    """`serve` on an existing data directory (or `--ephemeral` when None), with the container
    engine found or turned off."""
    where = ["--data-dir", data_dir] if data_dir else ["--ephemeral"]
    args = [BIN, "serve", *where, "--port", str(port), "--s3-port", "0", "--vault-port", "0"]
    env = dict(os.environ)
    if not engine:
        env["ONYXIA_LITE_ONYXIA_DOCKER_HOST"] = "none"
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def modes(data_dir, runs=10):
    """Start → /healthz and idle RSS in the four modes (ephemeral/existing × engine/none)."""
    for label, where in (("existing data", data_dir), ("ephemeral", None)):
        for engine in (True, False):
            samples = []
            for _ in range(runs):
                port = free_port()
                t0 = time.perf_counter()
                proc = start_mode(port, where, engine)
                wait_healthy(port)
                samples.append((time.perf_counter() - t0) * 1000)
                stop(proc)
            port = free_port()
            proc = start_mode(port, where, engine)
            wait_healthy(port)
            time.sleep(2)
            rss = rss_mib(proc.pid)
            stop(proc)
            what = f"{label}, {'engine' if engine else 'no engine'}"
            print(f"start → /healthz ({what}): median {statistics.median(samples):.0f} ms "
                  f"(min {min(samples):.0f}, max {max(samples):.0f}); idle RSS {rss:.1f} MiB")


def wait_for_hashing(data_dir, fixtures):
    """First start on a data dir: wait until fixture passwords are hashed and stored."""
    port = free_port()
    proc = start(data_dir, port, fixtures, {"ONYXIA_LITE_LOG": "onyxia_lite=debug"})
    for line in proc.stderr:
        if b"hashed fixture passwords" in line:
            break
    stop(proc)


def many_users(n):
    d = tempfile.mkdtemp(prefix="onyxia-bench-fixtures-")
    with open(os.path.join(d, "users.toml"), "w") as f:
        for i in range(n):
            f.write(f'[[user]]\nusername = "user{i}"\npassword = "password{i}"\ngroups = ["demo"]\n\n')
    return d


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def wrk(url, script, seconds=10, connections=16):
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", script, url],
        capture_output=True, text=True, check=True,
    ).stdout
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1]), out
    raise RuntimeError(out)


def exec_suite(runs=50, engine=True):
    """Total wall time of `runs` sequential `onyxia-lite exec -- true` (a test suite starting a
    platform per test), with the container engine found or turned off."""
    env = dict(os.environ)
    if not engine:
        env["ONYXIA_LITE_ONYXIA_DOCKER_HOST"] = "none"
    started = time.perf_counter()
    for _ in range(runs):
        subprocess.run([BIN, "exec", "--", "true"], env=env, check=True)
    return time.perf_counter() - started


def main():
    if sys.argv[1:] == ["modes"]:
        work = tempfile.mkdtemp(prefix="onyxia-bench-")
        try:
            data = os.path.join(work, "data")
            wait_for_hashing(data, None)
            modes(data)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
    if sys.argv[1:] == ["exec"]:
        for engine in (True, False):
            total = exec_suite(engine=engine)
            what = "engine detected" if engine else "no engine"
            print(f"50 sequential exec -- true ({what}): {total:.1f} s, {total / 50 * 1000:.0f} ms each")
        return
    work = tempfile.mkdtemp(prefix="onyxia-bench-")
    try:
        data = os.path.join(work, "data")
        wait_for_hashing(data, None)
        med, lo, hi = time_to_healthy(data)
        print(f"start → /healthz 200, demo realm (3 users):  median {med:.1f} ms (min {lo:.1f}, max {hi:.1f})")

        fixtures = many_users(1000)
        data_many = os.path.join(work, "data-many")
        wait_for_hashing(data_many, fixtures)
        med, lo, hi = time_to_healthy(data_many, fixtures)
        print(f"start → /healthz 200, 1,000 seeded users:   median {med:.1f} ms (min {lo:.1f}, max {hi:.1f})")
        shutil.rmtree(fixtures)

        port = free_port()
        proc = start(data, port)
        wait_healthy(port)
        time.sleep(2)
        print(f"idle resident memory after start:           {rss_mib(proc.pid):.1f} MiB")

        script = os.path.join(work, "cc.lua")
        with open(script, "w") as f:
            f.write(
                'wrk.method = "POST"\n'
                'wrk.body = "grant_type=client_credentials"\n'
                'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
                'wrk.headers["Authorization"] = "Basic dmF1bHQ6dmF1bHQtc2VjcmV0"\n'
                'response = function(status, headers, body)\n'
                '  if status ~= 200 then error("status " .. status) end\n'
                'end\n'
            )
        url = f"http://127.0.0.1:{port}/realms/datalab/protocol/openid-connect/token"
        rate, _ = wrk(url, script)
        print(f"client_credentials grants (RS256, 16 conns): {rate:,.0f} /s")
        print(f"resident memory after the load:             {rss_mib(proc.pid):.1f} MiB")
        stop(proc)
        for engine in (True, False):
            total = exec_suite(engine=engine)
            what = "engine detected" if engine else "no engine"
            print(f"50 sequential exec -- true ({what}): {total:.1f} s, {total / 50 * 1000:.0f} ms each")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
