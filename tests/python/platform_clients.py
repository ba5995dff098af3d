"""Clients of the platform the test scripts share, from its --print-env variables."""
import os

import boto3
from botocore.client import Config

endpoint = os.environ["AWS_ENDPOINT_URL"]
region = os.environ["AWS_DEFAULT_REGION"]

# The root keys, path-style addressing (no DNS for bucket hosts), SigV4.
root_options = dict(
    endpoint_url=endpoint,
    region_name=region,
    aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
    aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
)


def root_s3():
    return boto3.client("s3", **root_options)
