"""Fixtures for tests against onyxia-lite, to copy into a project.

Two ways to get a platform:

- run the suite under `onyxia-lite exec -- python -m pytest`: the platform's variables are in
  the environment, and every test module shares that one platform;
- run plain `pytest`: each test module starts its own ephemeral platform as a process
  (`onyxia-lite` on the PATH, or the binary named by ONYXIA_LITE_BIN) and stops it after.

The clients then need no settings of their own: boto3 reads AWS_ENDPOINT_URL and the keys,
hvac reads VAULT_ADDR and VAULT_TOKEN.
"""
import os
import shlex
import subprocess

import boto3
import hvac
import pytest
import requests

# The built-in demo users (fixtures/users.toml).
USERS = {"alice": "alice", "bob": "bob"}


def _start_platform():
    """An ephemeral platform on free ports: (process, its variables)."""
    binary = os.environ.get("ONYXIA_LITE_BIN", "onyxia-lite")
    process = subprocess.Popen(
        [binary, "serve", "--ephemeral", "--port", "0", "--s3-port", "0",
         "--vault-port", "0", "--print-env", "-"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    variables = {}
    # The variables come once every listener answers; the data directory is the last one.
    for line in process.stdout:
        key, _, value = line.rstrip("\n").partition("=")
        variables[key] = shlex.split(value)[0] if value else ""
        if key == "ONYXIA_LITE_DATA_DIR":
            break
    else:
        raise RuntimeError(f"onyxia-lite exited before it was ready ({process.wait()})")
    return process, variables


@pytest.fixture(scope="module")
def platform(monkeypatch_module):
    """The platform's variables, put in the environment for this module's tests."""
    if "ONYXIA_URL" in os.environ:
        yield dict(os.environ)
        return
    process, variables = _start_platform()
    for key, value in variables.items():
        monkeypatch_module.setenv(key, value)
    monkeypatch_module.setenv("AWS_REGION", variables["AWS_DEFAULT_REGION"])
    yield variables
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture
def s3(platform):
    """boto3 with the root keys, from the environment alone."""
    return boto3.client("s3")


@pytest.fixture
def vault(platform):
    """hvac with the root token, from the environment alone."""
    return hvac.Client()


@pytest.fixture
def token(platform):
    """A function returning an access token for a demo user (password grant)."""
    def get(user="alice"):
        answer = requests.post(os.environ["OIDC_TOKEN_URL"], data={
            "grant_type": "password", "client_id": os.environ["OIDC_CLIENT_ID"],
            "username": user, "password": USERS[user], "scope": "openid"}, timeout=10)
        answer.raise_for_status()
        return answer.json()["access_token"]
    return get
