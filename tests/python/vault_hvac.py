"""Vault with hvac: JWT login with an OIDC token, KV v2 as onyxia-web uses it, isolation.

Run by tests/it/python_clients.rs with the platform's --print-env variables; exits non-zero
on the first failed check.
"""
import os
import sys

import hvac
import requests
from hvac.exceptions import Forbidden, InvalidPath, InvalidRequest

addr = os.environ["VAULT_ADDR"]
mount = os.environ["VAULT_MOUNT"]

root = hvac.Client(url=addr, token=os.environ["VAULT_TOKEN"])
assert root.is_authenticated()
assert root.sys.read_health_status(method="GET")["initialized"] is True
assert "onyxia-kv/" in root.sys.list_mounted_secrets_engines()["data"]

token = requests.post(
    os.environ["OIDC_TOKEN_URL"],
    data={"grant_type": "password", "client_id": "onyxia", "username": "alice", "password": "alice"},
    timeout=10,
).json()["access_token"]
alice = hvac.Client(url=addr)
login = alice.auth.jwt.jwt_login(role="onyxia-user", jwt=token)
assert login["auth"]["metadata"]["username"] == "alice", login
assert "onyxia-user" in login["auth"]["policies"]
assert alice.is_authenticated()

kv = alice.secrets.kv.v2
# The seeded secret.
assert kv.read_secret_version(path="user-alice/welcome", mount_point=mount, raise_on_deleted_version=True)["data"]["data"]["message"]

kv.create_or_update_secret(path="user-alice/db", secret={"user": "app", "password": "s3cret"}, mount_point=mount)
kv.create_or_update_secret(path="user-alice/db", secret={"user": "app", "password": "rotated"}, cas=1, mount_point=mount)
try:
    kv.create_or_update_secret(path="user-alice/db", secret={"x": "y"}, cas=1, mount_point=mount)
    sys.exit("a stale check-and-set was accepted")
except InvalidRequest:
    pass
kv.patch(path="user-alice/db", secret={"port": "5432"}, mount_point=mount)
latest = kv.read_secret_version(path="user-alice/db", mount_point=mount, raise_on_deleted_version=True)["data"]
assert latest["data"] == {"user": "app", "password": "rotated", "port": "5432"}, latest
assert latest["metadata"]["version"] == 3
first = kv.read_secret_version(path="user-alice/db", version=1, mount_point=mount, raise_on_deleted_version=True)
assert first["data"]["data"]["password"] == "s3cret"
assert kv.list_secrets(path="user-alice", mount_point=mount)["data"]["keys"] == ["db", "welcome"]
meta = kv.read_secret_metadata(path="user-alice/db", mount_point=mount)["data"]
assert meta["current_version"] == 3 and set(meta["versions"]) == {"1", "2", "3"}, meta

kv.delete_latest_version_of_secret(path="user-alice/db", mount_point=mount)
try:
    kv.read_secret_version(path="user-alice/db", mount_point=mount, raise_on_deleted_version=True)
    sys.exit("a deleted version was readable")
except InvalidPath:
    pass
kv.undelete_secret_versions(path="user-alice/db", versions=[3], mount_point=mount)
assert kv.read_secret_version(path="user-alice/db", mount_point=mount, raise_on_deleted_version=True)["data"]["data"]["port"] == "5432"
kv.destroy_secret_versions(path="user-alice/db", versions=[1], mount_point=mount)
try:
    kv.read_secret_version(path="user-alice/db", version=1, mount_point=mount, raise_on_deleted_version=True)
    sys.exit("a destroyed version was readable")
except InvalidPath:
    pass

# Project secrets of her group, and nothing of bob's or of other mounts.
kv.create_or_update_secret(path="projet-demo/shared", secret={"k": "v"}, mount_point=mount)
for path, where in [("user-bob/x", mount), ("user-alice/x", "secret"), ("projet-other/x", mount)]:
    try:
        kv.create_or_update_secret(path=path, secret={"k": "v"}, mount_point=where)
        sys.exit(f"alice could write {where}/{path}")
    except Forbidden:
        pass

kv.delete_metadata_and_all_versions(path="user-alice/db", mount_point=mount)
assert kv.list_secrets(path="user-alice", mount_point=mount)["data"]["keys"] == ["welcome"]

alice.auth.token.revoke_self()
assert not alice.is_authenticated(), "a revoked token stops working"
print("hvac: JWT login, KV v2 versions/CAS/patch/list/delete/undelete/destroy, isolation, revoke: ok")
