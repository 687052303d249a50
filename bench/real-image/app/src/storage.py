"""Exports to S3; credentials come from the instance role, never from the image."""
import boto3

from . import settings

s3 = boto3.client("s3", region_name=settings.AWS_REGION)


def put_export(name: str, body: bytes) -> str:
    s3.put_object(Bucket=settings.BUCKET, Key=f"exports/{name}", Body=body)
    return f"s3://{settings.BUCKET}/exports/{name}"
