"""Object lock with boto3, as backup tools use it: a bucket created with object lock and a
default COMPLIANCE retention, versions that cannot be deleted before their date, retention and
legal hold read back, and a GOVERNANCE retention lifted with the bypass.

Run by tests/it/s3_object_lock.rs with the platform's --print-env variables (root keys);
exits non-zero on the first failed check.
"""
import datetime
import sys

from botocore.exceptions import ClientError

from platform_clients import root_s3

s3 = root_s3()


def refused(call, code, **kwargs):
    try:
        call(**kwargs)
    except ClientError as e:
        assert e.response["Error"]["Code"] == code, e.response
        return
    sys.exit(f"{call.__name__} {kwargs} was not refused")


s3.create_bucket(Bucket="backups", ObjectLockEnabledForBucket=True)
assert s3.get_bucket_versioning(Bucket="backups")["Status"] == "Enabled"
s3.put_object_lock_configuration(Bucket="backups", ObjectLockConfiguration={
    "ObjectLockEnabled": "Enabled",
    "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 30}},
})
config = s3.get_object_lock_configuration(Bucket="backups")["ObjectLockConfiguration"]
assert config["Rule"]["DefaultRetention"] == {"Mode": "COMPLIANCE", "Days": 30}, config

version = s3.put_object(Bucket="backups", Key="db.dump", Body=b"dump")["VersionId"]
retention = s3.get_object_retention(Bucket="backups", Key="db.dump", VersionId=version)
assert retention["Retention"]["Mode"] == "COMPLIANCE", retention
left = retention["Retention"]["RetainUntilDate"] - datetime.datetime.now(datetime.timezone.utc)
assert datetime.timedelta(days=29) < left <= datetime.timedelta(days=30), left
refused(s3.delete_object, "AccessDenied", Bucket="backups", Key="db.dump", VersionId=version)
refused(s3.delete_object, "AccessDenied", Bucket="backups", Key="db.dump", VersionId=version,
        BypassGovernanceRetention=True)
batch = s3.delete_objects(Bucket="backups", Delete={"Objects": [
    {"Key": "db.dump", "VersionId": version}]})
assert batch["Errors"][0]["Code"] == "AccessDenied", batch

soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
governed = s3.put_object(Bucket="backups", Key="notes", Body=b"n", ObjectLockMode="GOVERNANCE",
                         ObjectLockRetainUntilDate=soon, ObjectLockLegalHoldStatus="ON")
head = s3.head_object(Bucket="backups", Key="notes")
assert head["ObjectLockMode"] == "GOVERNANCE" and head["ObjectLockLegalHoldStatus"] == "ON", head
hold = s3.get_object_legal_hold(Bucket="backups", Key="notes")
assert hold["LegalHold"]["Status"] == "ON", hold
refused(s3.delete_object, "AccessDenied", Bucket="backups", Key="notes",
        VersionId=governed["VersionId"], BypassGovernanceRetention=True)
s3.put_object_legal_hold(Bucket="backups", Key="notes", LegalHold={"Status": "OFF"})
s3.delete_object(Bucket="backups", Key="notes", VersionId=governed["VersionId"],
                 BypassGovernanceRetention=True)
refused(s3.put_bucket_versioning, "InvalidBucketState", Bucket="backups",
        VersioningConfiguration={"Status": "Suspended"})
