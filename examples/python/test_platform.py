"""An example suite: S3, Vault, the issuer and the Onyxia API of one platform per module."""
import os
import uuid

import requests


def test_objects_round_trip(s3):
    bucket = f"example-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="data/hello.txt", Body=b"hello")
    assert s3.get_object(Bucket=bucket, Key="data/hello.txt")["Body"].read() == b"hello"
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="data/")
    assert [o["Key"] for o in listed["Contents"]] == ["data/hello.txt"]


def test_secrets_round_trip(vault):
    mount = os.environ["VAULT_MOUNT"]
    vault.secrets.kv.v2.create_or_update_secret(
        path="example/db", secret={"password": "s3cr3t"}, mount_point=mount)
    read = vault.secrets.kv.v2.read_secret_version(
        path="example/db", mount_point=mount, raise_on_deleted_version=True)
    assert read["data"]["data"] == {"password": "s3cr3t"}


def test_a_user_calls_the_onyxia_api(token):
    answer = requests.get(f"{os.environ['ONYXIA_URL']}/api/user/info",
                          headers={"Authorization": f"Bearer {token('alice')}"}, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["idep"] == "alice"
