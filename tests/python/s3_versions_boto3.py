"""Versions of a never-versioned bucket with boto3: listing (paginated, by folder), version
`null` on reads and copies, and the usual way to empty a bucket before deleting it,
`Bucket.object_versions.delete()` (ListObjectVersions, then DeleteObjects with version ids).

Run by tests/it/s3_versions.rs with the platform's --print-env variables (root keys); exits
non-zero on the first failed check.
"""
import sys

import boto3
from botocore.exceptions import ClientError

from platform_clients import root_options, root_s3

options = root_options
s3 = root_s3()
keys = ["a.txt", "dir/b.txt", "dir/c d.txt", "dir/sub/e.txt", "é+&.txt"]
s3.create_bucket(Bucket="cleanup")
for key in keys:
    s3.put_object(Bucket="cleanup", Key=key, Body=key.encode())

assert "Status" not in s3.get_bucket_versioning(Bucket="cleanup")

pages = s3.get_paginator("list_object_versions").paginate(
    Bucket="cleanup", PaginationConfig={"PageSize": 2}
)
listed = [v for page in pages for v in page.get("Versions", [])]
assert [v["Key"] for v in listed] == keys, listed
assert all(v["VersionId"] == "null" and v["IsLatest"] for v in listed), listed

folder = s3.list_object_versions(Bucket="cleanup", Prefix="dir/", Delimiter="/")
assert [v["Key"] for v in folder["Versions"]] == ["dir/b.txt", "dir/c d.txt"], folder
assert [p["Prefix"] for p in folder["CommonPrefixes"]] == ["dir/sub/"], folder

# boto3 asks for url-encoded keys itself and decodes them (the listing above); asked for by
# the caller, they come back encoded.
encoded = s3.list_object_versions(Bucket="cleanup", Prefix="é", EncodingType="url")
assert [v["Key"] for v in encoded["Versions"]] == ["%C3%A9%2B%26.txt"], encoded

body = s3.get_object(Bucket="cleanup", Key="a.txt", VersionId="null")["Body"].read()
assert body == b"a.txt"
s3.copy_object(Bucket="cleanup", Key="copy.txt",
               CopySource={"Bucket": "cleanup", "Key": "a.txt", "VersionId": "null"})
try:
    s3.get_object(Bucket="cleanup", Key="a.txt", VersionId="0b8f4e1c-55aa-4d6e-9c1b-2f3a4b5c6d7e")
    sys.exit("a version that never existed was read")
except ClientError as e:
    assert e.response["Error"]["Code"] == "NoSuchVersion", e.response
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404

bucket = boto3.resource("s3", **options).Bucket("cleanup")
bucket.object_versions.delete()
assert list(bucket.object_versions.all()) == []
bucket.delete()
assert "cleanup" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]

# GetObjectAttributes, as boto3 sends it (a comma-separated header).
s3.create_bucket(Bucket="attrs")
s3.put_object(Bucket="attrs", Key="k", Body=b"12345", ChecksumAlgorithm="CRC32")
attrs = s3.get_object_attributes(Bucket="attrs", Key="k",
                                 ObjectAttributes=["ETag", "ObjectSize", "Checksum", "StorageClass"])
assert attrs["ObjectSize"] == 5 and attrs["StorageClass"] == "STANDARD", attrs
assert attrs["Checksum"]["ChecksumCRC32"], attrs
