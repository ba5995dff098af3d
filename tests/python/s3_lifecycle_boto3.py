"""Lifecycle rules with boto3: the rules a versioned bucket uses (expiration, noncurrent
versions, lone delete markers, forgotten uploads) are kept and shown as sent, S3's checks
refuse bad rules with S3's codes, and deleting the configuration leaves none.

Run by tests/it/s3_lifecycle.rs with the platform's --print-env variables (root keys); exits
non-zero on the first failed check.
"""
import sys

from botocore.exceptions import ClientError

from platform_clients import root_s3

s3 = root_s3()
s3.create_bucket(Bucket="aged")
s3.put_bucket_versioning(Bucket="aged", VersioningConfiguration={"Status": "Enabled"})
rules = [
    {"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 7}},
    {"ID": "old", "Status": "Enabled", "Filter": {"Prefix": ""},
     "NoncurrentVersionExpiration": {"NoncurrentDays": 30}},
    {"ID": "markers", "Status": "Enabled", "Filter": {"Prefix": ""},
     "Expiration": {"ExpiredObjectDeleteMarker": True}},
    {"ID": "uploads", "Status": "Enabled", "Filter": {"Prefix": ""},
     "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}},
]
s3.put_bucket_lifecycle_configuration(Bucket="aged", LifecycleConfiguration={"Rules": rules})
shown = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket="aged")["Rules"]}
assert shown["tmp"]["Expiration"] == {"Days": 7}, shown
assert shown["old"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30, shown
assert shown["markers"]["Expiration"] == {"ExpiredObjectDeleteMarker": True}, shown
assert shown["uploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 2}, shown


def refused(rule, code):
    try:
        s3.put_bucket_lifecycle_configuration(Bucket="aged",
                                              LifecycleConfiguration={"Rules": [rule]})
    except ClientError as e:
        assert e.response["Error"]["Code"] == code, e.response
        return
    sys.exit(f"{rule} was accepted")


base = {"ID": "bad", "Status": "Enabled", "Filter": {"Prefix": ""}}
refused({**base, "Expiration": {"Days": 0}}, "InvalidArgument")
refused({**base, "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]}, "NotImplemented")
refused(base, "InvalidRequest")
assert len(s3.get_bucket_lifecycle_configuration(Bucket="aged")["Rules"]) == 4, "unchanged"

s3.delete_bucket_lifecycle(Bucket="aged")
try:
    s3.get_bucket_lifecycle_configuration(Bucket="aged")
    sys.exit("a deleted configuration was shown")
except ClientError as e:
    assert e.response["Error"]["Code"] == "NoSuchLifecycleConfiguration", e.response
