"""Checksums of multipart uploads with boto3: a composite and a full-object CRC32 (checked
against zlib's), shown by CompleteMultipartUpload,
HEAD with ChecksumMode, GetObjectAttributes and ListObjectsV2; a wrong whole-object checksum
is refused.

Run by tests/it/s3_attributes.rs with the platform's --print-env variables (root keys); exits
non-zero on the first failed check.
"""
import base64
import sys
import zlib

from botocore.exceptions import ClientError

from platform_clients import root_s3

s3 = root_s3()
s3.create_bucket(Bucket="sums")
parts = [b"a" * (5 * 1024 * 1024), b"the end"]


def b64(value):
    return base64.b64encode(value.to_bytes(4, "big")).decode()


def upload(key, algorithm, kind, whole=None):
    created = s3.create_multipart_upload(Bucket="sums", Key=key, ChecksumAlgorithm=algorithm,
                                         ChecksumType=kind)
    assert created["ChecksumType"] == kind, created
    done = []
    for number, body in enumerate(parts, start=1):
        part = s3.upload_part(Bucket="sums", Key=key, UploadId=created["UploadId"],
                              PartNumber=number, Body=body, ChecksumAlgorithm=algorithm)
        field = "Checksum" + algorithm
        done.append({"PartNumber": number, "ETag": part["ETag"], field: part[field]})
    extra = {"Checksum" + algorithm: whole, "ChecksumType": kind} if whole else {}
    return s3.complete_multipart_upload(Bucket="sums", Key=key, UploadId=created["UploadId"],
                                        MultipartUpload={"Parts": done}, **extra), done


composite, done = upload("composite", "CRC32", "COMPOSITE")
raw = b"".join(base64.b64decode(p["ChecksumCRC32"]) for p in done)
expected = b64(zlib.crc32(raw)) + "-2"
assert composite["ChecksumCRC32"] == expected and composite["ChecksumType"] == "COMPOSITE", composite

# (CRC32: boto3 needs the CRT package for CRC32C.)
whole = b64(zlib.crc32(b"".join(parts)))
try:
    upload("wrong", "CRC32", "FULL_OBJECT", whole=b64(1))
    sys.exit("a wrong whole-object checksum was accepted")
except ClientError as e:
    assert e.response["Error"]["Code"] == "BadDigest", e.response
full, _ = upload("full", "CRC32", "FULL_OBJECT", whole=whole)
assert full["ChecksumCRC32"] == whole and full["ChecksumType"] == "FULL_OBJECT", full

head = s3.head_object(Bucket="sums", Key="full", ChecksumMode="ENABLED")
assert head["ChecksumCRC32"] == whole and head["ChecksumType"] == "FULL_OBJECT", head
body = s3.get_object(Bucket="sums", Key="full", ChecksumMode="ENABLED")["Body"].read()
assert len(body) == len(b"".join(parts))
attrs = s3.get_object_attributes(Bucket="sums", Key="composite", ObjectAttributes=["Checksum"])
assert attrs["Checksum"]["ChecksumCRC32"] == expected, attrs
assert attrs["Checksum"]["ChecksumType"] == "COMPOSITE", attrs
listed = {o["Key"]: o for o in s3.list_objects_v2(Bucket="sums")["Contents"]}
assert listed["composite"]["ChecksumAlgorithm"] == ["CRC32"], listed
assert listed["full"]["ChecksumType"] == "FULL_OBJECT", listed
