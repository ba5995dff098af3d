"""Every setting of a bucket read with boto3, as infrastructure tools refresh a bucket
(Terraform's aws_s3_bucket reads each one): configured ones come back, the ones onyxia-lite
does not have answer what AWS answers for a bucket where they were never set.

Run by tests/it/s3_bucket_settings.rs with the platform's --print-env variables (root keys);
exits non-zero on the first failed check.
"""
from botocore.exceptions import ClientError

from platform_clients import root_s3

s3 = root_s3()
s3.create_bucket(Bucket="infra", ObjectOwnership="BucketOwnerEnforced")
s3.put_bucket_versioning(Bucket="infra", VersioningConfiguration={"Status": "Enabled"})
s3.put_bucket_tagging(Bucket="infra", Tagging={"TagSet": [{"Key": "team", "Value": "data"}]})

rules = s3.get_bucket_ownership_controls(Bucket="infra")["OwnershipControls"]["Rules"]
assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}], rules
assert s3.get_bucket_versioning(Bucket="infra")["Status"] == "Enabled"
assert s3.get_bucket_tagging(Bucket="infra")["TagSet"] == [{"Key": "team", "Value": "data"}]
assert s3.get_bucket_request_payment(Bucket="infra")["Payer"] == "BucketOwner"
assert "Status" not in s3.get_bucket_accelerate_configuration(Bucket="infra")
assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket="infra")
notifications = s3.get_bucket_notification_configuration(Bucket="infra")
assert not notifications.get("QueueConfigurations"), notifications
for call, code in [
    (s3.get_bucket_website, "NoSuchWebsiteConfiguration"),
    (s3.get_bucket_replication, "ReplicationConfigurationNotFoundError"),
    (s3.get_bucket_encryption, "ServerSideEncryptionConfigurationNotFoundError"),
    (s3.get_bucket_cors, "NoSuchCORSConfiguration"),
    (s3.get_bucket_policy, "NoSuchBucketPolicy"),
    (s3.get_bucket_lifecycle_configuration, "NoSuchLifecycleConfiguration"),
    (s3.get_object_lock_configuration, "ObjectLockConfigurationNotFoundError"),
]:
    try:
        call(Bucket="infra")
    except ClientError as e:
        assert e.response["Error"]["Code"] == code, (call.__name__, e.response)
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404, e.response
    else:
        raise SystemExit(f"{call.__name__} answered a configuration that was never set")
