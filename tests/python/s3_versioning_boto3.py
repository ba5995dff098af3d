"""Bucket versioning with boto3: enable, write versions, read them back by id, hide a key
behind a delete marker, page through ListObjectVersions, restore by deleting the marker,
suspend, and empty the bucket the usual way (`Bucket.object_versions.delete()`).

Run by tests/it/s3_versioning.rs with the platform's --print-env variables (root keys); exits
non-zero on the first failed check.
"""
import sys

import boto3
from botocore.exceptions import ClientError

from platform_clients import root_options, root_s3

s3 = root_s3()
s3.create_bucket(Bucket="history")
s3.put_bucket_versioning(Bucket="history", VersioningConfiguration={"Status": "Enabled"})
assert s3.get_bucket_versioning(Bucket="history")["Status"] == "Enabled"

ids = [s3.put_object(Bucket="history", Key="report.csv", Body=f"v{i}".encode())["VersionId"]
       for i in range(3)]
assert len(set(ids)) == 3, ids
for i, version in enumerate(ids):
    got = s3.get_object(Bucket="history", Key="report.csv", VersionId=version)
    assert got["Body"].read() == f"v{i}".encode() and got["VersionId"] == version
for key in ["a", "b/c", "d"]:
    s3.put_object(Bucket="history", Key=key, Body=b"x")

marker = s3.delete_object(Bucket="history", Key="report.csv")
assert marker["DeleteMarker"] is True, marker
try:
    s3.head_object(Bucket="history", Key="report.csv")
    sys.exit("a deleted key was found")
except ClientError as e:
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404, e.response

pages = s3.get_paginator("list_object_versions").paginate(
    Bucket="history", PaginationConfig={"PageSize": 2}
)
versions, markers = [], []
for page in pages:
    versions += [(v["Key"], v["VersionId"], v["IsLatest"]) for v in page.get("Versions", [])]
    markers += [(m["Key"], m["VersionId"], m["IsLatest"]) for m in page.get("DeleteMarkers", [])]
assert markers == [("report.csv", marker["VersionId"], True)], markers
report = [(v, latest) for key, v, latest in versions if key == "report.csv"]
assert report == [(ids[2], False), (ids[1], False), (ids[0], False)], report
assert [key for key, _, _ in versions if key != "report.csv"] == ["a", "b/c", "d"], versions

s3.delete_object(Bucket="history", Key="report.csv", VersionId=marker["VersionId"])
assert s3.get_object(Bucket="history", Key="report.csv")["Body"].read() == b"v2"

s3.put_bucket_versioning(Bucket="history", VersioningConfiguration={"Status": "Suspended"})
assert "VersionId" not in s3.put_object(Bucket="history", Key="report.csv", Body=b"null")
latest = s3.list_object_versions(Bucket="history", Prefix="report.csv")["Versions"][0]
assert (latest["VersionId"], latest["IsLatest"]) == ("null", True), latest

bucket = boto3.resource("s3", **root_options).Bucket("history")
bucket.object_versions.delete()
assert list(bucket.object_versions.all()) == []
bucket.delete()
