"""The Onyxia S3 flow with boto3: OIDC token → STS AssumeRoleWithWebIdentity → S3 as alice.

Run by tests/it/python_clients.rs with the platform's --print-env variables; exits non-zero
on the first failed check.
"""
import os
import sys

import boto3
import requests
from botocore.client import Config
from botocore.exceptions import ClientError

endpoint = os.environ["AWS_ENDPOINT_URL"]
region = os.environ["AWS_DEFAULT_REGION"]
token = requests.post(
    os.environ["OIDC_TOKEN_URL"],
    data={"grant_type": "password", "client_id": "onyxia-minio", "username": "alice", "password": "alice"},
    timeout=10,
).json()["access_token"]

sts = boto3.client("sts", endpoint_url=endpoint, region_name=region,
                   aws_access_key_id="unused", aws_secret_access_key="unused")
creds = sts.assume_role_with_web_identity(
    RoleArn="arn:aws:iam::000000000000:role/onyxia", RoleSessionName="alice", WebIdentityToken=token,
)["Credentials"]

s3 = boto3.client(
    "s3", endpoint_url=endpoint, region_name=region,
    aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
    aws_session_token=creds["SessionToken"],
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
)
s3.put_object(Bucket="user-alice", Key="hello.txt", Body=b"hello from boto3")
assert s3.get_object(Bucket="user-alice", Key="hello.txt")["Body"].read() == b"hello from boto3"
listed = s3.list_objects_v2(Bucket="user-alice", Prefix="hello")
assert [o["Key"] for o in listed["Contents"]] == ["hello.txt"], listed

try:
    s3.put_object(Bucket="user-bob", Key="x", Body=b"x")
    sys.exit("alice could write to user-bob")
except ClientError as e:
    assert e.response["Error"]["Code"] == "AccessDenied", e.response

# A presigned GET (SigV4, with the session token) works from a plain HTTP client.
url = s3.generate_presigned_url("get_object", Params={"Bucket": "user-alice", "Key": "hello.txt"}, ExpiresIn=300)
assert requests.get(url, timeout=10).content == b"hello from boto3"

# A token for another audience is refused with STS's own error.
other = requests.post(
    os.environ["OIDC_TOKEN_URL"],
    data={"grant_type": "password", "client_id": "onyxia", "username": "alice", "password": "alice"},
    timeout=10,
).json()["access_token"]
try:
    sts.assume_role_with_web_identity(RoleArn="arn:aws:iam::000000000000:role/onyxia", RoleSessionName="alice", WebIdentityToken=other)
    sys.exit("a token for another audience was accepted")
except ClientError as e:
    assert e.response["Error"]["Code"] == "InvalidIdentityToken", e.response

print("boto3: STS web identity, S3 put/get/list, AccessDenied, presigned GET: ok")
