"""Browser POST uploads as web apps make them: the server signs a policy with boto3's
generate_presigned_post, the client posts a multipart form straight to S3 (requests, as a
browser's form would). Conditions, success_action_status/redirect, metadata, and refusals.

Run by tests/it/s3_post.rs with the platform's --print-env variables (root keys); exits
non-zero on the first failed check.
"""
import os
import sys
import xml.etree.ElementTree as ET

import boto3
import requests
from botocore.client import Config

from platform_clients import endpoint, root_s3

s3 = root_s3()
s3.create_bucket(Bucket="uploads")


def post(presigned, data, **extra):
    fields = dict(presigned["fields"], **extra)
    return requests.post(presigned["url"], data=fields,
                         files={"file": ("photo.png", data, "image/png")}, timeout=10)


# The usual form: a key under a prefix chosen by the user, a size range, metadata.
form = s3.generate_presigned_post(
    "uploads", "users/alice/${filename}",
    Fields={"x-amz-meta-origin": "browser", "success_action_status": "201"},
    Conditions=[["starts-with", "$key", "users/alice/"],
                ["content-length-range", 1, 1024],
                {"x-amz-meta-origin": "browser"},
                {"success_action_status": "201"}],
    ExpiresIn=300,
)
answer = post(form, b"\x89PNG fake")
assert answer.status_code == 201, (answer.status_code, answer.text)
document = ET.fromstring(answer.text)
assert document.find("Key").text == "users/alice/photo.png", answer.text
head = s3.head_object(Bucket="uploads", Key="users/alice/photo.png")
assert head["Metadata"] == {"origin": "browser"}, head
assert head["ContentLength"] == len(b"\x89PNG fake")
assert s3.get_object(Bucket="uploads", Key="users/alice/photo.png")["Body"].read() == b"\x89PNG fake"

# Outside the policy's conditions: too large, another key, a changed field.
too_big = post(form, b"x" * 2048)
assert too_big.status_code == 400 and "EntityTooLarge" in too_big.text, too_big.text
elsewhere = post(form, b"x", key="users/bob/photo.png")
assert elsewhere.status_code == 403, (elsewhere.status_code, elsewhere.text)
tampered = post(form, b"x", **{"x-amz-meta-origin": "script"})
assert tampered.status_code == 403, (tampered.status_code, tampered.text)

# A redirect after the upload, with bucket, key and ETag in its query.
redirecting = s3.generate_presigned_post(
    "uploads", "done.txt",
    Fields={"success_action_redirect": "https://app.example.org/uploaded"},
    Conditions=[{"success_action_redirect": "https://app.example.org/uploaded"}],
)
moved = requests.post(redirecting["url"], data=redirecting["fields"],
                      files={"file": ("done.txt", b"done")}, allow_redirects=False, timeout=10)
assert moved.status_code == 303, (moved.status_code, moved.text)
assert moved.headers["Location"].startswith("https://app.example.org/uploaded?bucket=uploads&key=done.txt&etag="), moved.headers

# Without success_action_status: 204. A forged signature: refused, nothing written.
plain = s3.generate_presigned_post("uploads", "plain.txt")
assert post(plain, b"p").status_code == 204
forged = dict(plain["fields"], **{"x-amz-signature": "0" * 64})
refused = requests.post(plain["url"], data=forged, files={"file": ("f", b"evil")}, timeout=10)
assert refused.status_code == 403 and "SignatureDoesNotMatch" in refused.text, refused.text
assert s3.get_object(Bucket="uploads", Key="plain.txt")["Body"].read() == b"p"

# An unsigned form is an anonymous write: refused, until the bucket's ACL lets anyone write.
anonymous = {"key": "guest.txt"}
denied = requests.post(f"{endpoint}/uploads", data=anonymous, files={"file": ("g", b"g")}, timeout=10)
assert denied.status_code == 403 and "AccessDenied" in denied.text, denied.text
s3.put_bucket_acl(Bucket="uploads", ACL="public-read-write")
allowed = requests.post(f"{endpoint}/uploads", data=anonymous, files={"file": ("g", b"g")}, timeout=10)
assert allowed.status_code == 204, (allowed.status_code, allowed.text)
assert s3.get_object(Bucket="uploads", Key="guest.txt")["Body"].read() == b"g"

# A form signed with temporary keys is refused: its session token is not read.
token = requests.post(os.environ["OIDC_TOKEN_URL"], data={
    "grant_type": "password", "client_id": "onyxia-minio", "username": "alice", "password": "alice",
}, timeout=10).json()["access_token"]
creds = boto3.client("sts", endpoint_url=endpoint, region_name=os.environ["AWS_DEFAULT_REGION"],
                     aws_access_key_id="unused", aws_secret_access_key="unused"
                     ).assume_role_with_web_identity(
    RoleArn="arn:aws:iam::000000000000:role/onyxia", RoleSessionName="alice",
    WebIdentityToken=token)["Credentials"]
session = boto3.client(
    "s3", endpoint_url=endpoint, region_name=os.environ["AWS_DEFAULT_REGION"],
    aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
    aws_session_token=creds["SessionToken"],
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
)
temporary = post(session.generate_presigned_post("user-alice", "form.txt"), b"t")
assert temporary.status_code in (400, 403) and "InvalidToken" in temporary.text, temporary.text
