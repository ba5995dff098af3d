"""Canned ACLs with boto3: publish one object of a private bucket, read the ACLs back, and
check with a plain HTTP client that exactly that object is public.

Run by tests/it/s3_acl.rs with the platform's --print-env variables (root keys); exits
non-zero on the first failed check.
"""
import sys

import requests
from botocore.exceptions import ClientError

from platform_clients import endpoint, root_s3

s3 = root_s3()
s3.create_bucket(Bucket="site")
s3.put_object(Bucket="site", Key="index.html", Body=b"<h1>hello</h1>", ACL="public-read",
              ContentType="text/html")
s3.put_object(Bucket="site", Key="draft.html", Body=b"<h1>soon</h1>")

acl = s3.get_object_acl(Bucket="site", Key="index.html")
grants = {(g["Grantee"].get("URI") or g["Grantee"].get("ID"), g["Permission"]) for g in acl["Grants"]}
assert grants == {("root", "FULL_CONTROL"),
                  ("http://acs.amazonaws.com/groups/global/AllUsers", "READ")}, acl
assert len(s3.get_bucket_acl(Bucket="site")["Grants"]) == 1

page = requests.get(f"{endpoint}/site/index.html", timeout=5)
assert page.status_code == 200 and page.text == "<h1>hello</h1>", page
assert requests.get(f"{endpoint}/site/draft.html", timeout=5).status_code == 403
assert requests.get(f"{endpoint}/site", timeout=5).status_code == 403

s3.put_object_acl(Bucket="site", Key="draft.html", ACL="public-read")
assert requests.get(f"{endpoint}/site/draft.html", timeout=5).status_code == 200
try:
    s3.put_object_acl(Bucket="site", Key="draft.html", GrantRead='emailAddress="bob@example.org"')
    sys.exit("a grant to a named grantee was accepted")
except ClientError as e:
    assert e.response["Error"]["Code"] == "NotImplemented", e.response

# A public access block makes the bucket ignore its public ACLs, and says so.
s3.put_public_access_block(Bucket="site", PublicAccessBlockConfiguration={
    "BlockPublicAcls": True, "IgnorePublicAcls": True,
    "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
block = s3.get_public_access_block(Bucket="site")["PublicAccessBlockConfiguration"]
assert all(block.values()), block
assert requests.get(f"{endpoint}/site/index.html", timeout=5).status_code == 403
try:
    s3.put_bucket_policy(Bucket="site", Policy='{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
                         '"Principal":"*","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::site/*"]}]}')
    sys.exit("a public policy got past the block")
except ClientError as e:
    assert e.response["Error"]["Code"] == "AccessDenied", e.response
s3.delete_public_access_block(Bucket="site")
assert requests.get(f"{endpoint}/site/index.html", timeout=5).status_code == 200
