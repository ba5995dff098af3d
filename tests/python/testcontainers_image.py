"""The Testcontainers fixture of docs/CONTAINER.md, in full, against the onyxia-lite image.

Run by tests/it/container_image.rs with ONYXIA_LITE_IMAGE naming the image it built and
DOCKER_HOST the engine's socket; exits non-zero when a check fails.
"""
import os
import socket
import sys
import time

import boto3
import pytest
import requests
from testcontainers.core.container import DockerContainer

IMAGE = os.environ.get("ONYXIA_LITE_IMAGE", "registry.example.org/onyxia-lite:latest")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_healthy(url, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout} s")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def onyxia():
    main, s3, vault = free_port(), free_port(), free_port()
    container = (
        DockerContainer(IMAGE)
        .with_bind_ports(8080, main).with_bind_ports(9000, s3).with_bind_ports(8200, vault)
        .with_env("ONYXIA_LITE_PUBLIC_URL", f"http://localhost:{main}")
        .with_env("ONYXIA_LITE_S3_PUBLIC_URL", f"http://localhost:{s3}")
        .with_env("ONYXIA_LITE_VAULT_PUBLIC_URL", f"http://localhost:{vault}")
    )
    with container:
        wait_until_healthy(f"http://localhost:{main}/healthz")
        code, output = container.exec(["onyxia-lite", "env"])
        assert code == 0, output
        yield dict(line.split("=", 1) for line in output.decode().splitlines())


def test_s3_with_the_root_keys(onyxia):
    s3 = boto3.client(
        "s3",
        endpoint_url=onyxia["AWS_ENDPOINT_URL"],
        region_name=onyxia["AWS_DEFAULT_REGION"],
        aws_access_key_id=onyxia["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=onyxia["AWS_SECRET_ACCESS_KEY"],
    )
    s3.create_bucket(Bucket="fixtures")
    s3.put_object(Bucket="fixtures", Key="a.csv", Body=b"x,y\n1,2\n")
    assert s3.get_object(Bucket="fixtures", Key="a.csv")["Body"].read() == b"x,y\n1,2\n"


def test_the_issuer_names_the_published_port(onyxia):
    discovery = requests.get(
        onyxia["OIDC_ISSUER_URL"] + "/.well-known/openid-configuration", timeout=5
    ).json()
    assert discovery["issuer"] == onyxia["OIDC_ISSUER_URL"]
    token = requests.post(
        onyxia["OIDC_TOKEN_URL"],
        data={"grant_type": "password", "client_id": "onyxia", "username": "alice",
              "password": "alice"},
        timeout=10,
    ).json()["access_token"]
    info = requests.get(
        onyxia["ONYXIA_URL"] + "/api/user/info",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert info.status_code == 200, info.text


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q", "-p", "no:cacheprovider"]))
