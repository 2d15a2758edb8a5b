"""Hosted files' bytes in S3-compatible object storage (AWS S3, MinIO, Ceph, R2...): every node serving
the app reads and writes the same bucket, as they share the database.

Named by ``s3://bucket/prefix`` where a files folder is named (``EmbeddedServer(files_dir=...)``,
``leanorm serve --files``). The client is boto3 (``pip install 'leanorm[s3]'``), configured as boto3
always is: credentials and region from the environment or the instance's role, another endpoint than
AWS's from ``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_S3``). A file is one object,
``<prefix>/<objectId>``, written in one ``PUT`` (an upload is at most ``Settings.max_upload_size``, held
in memory as ``TableBytes`` holds it), so a reader never sees half of one."""
from __future__ import annotations

import io
from typing import Any, BinaryIO, Iterable, Tuple
from urllib.parse import urlsplit

__all__ = ["S3Bytes", "is_s3_url"]


def is_s3_url(location: str) -> bool:
    """Whether ``location`` names a bucket (``s3://bucket[/prefix]``) rather than a folder."""
    return location.startswith("s3://")


class S3Bytes:
    """Bytes as objects of a bucket, one per file, under a prefix."""

    def __init__(self, url: str, client: Any = None) -> None:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"not a bucket URL (s3://bucket/prefix): {url!r}")
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        if client is None:
            import boto3  # imported on use: an app keeping its files elsewhere need not install it
            client = boto3.client("s3")
        self._client = client

    def _key(self, object_id: str) -> str:
        if not object_id.isalnum():  # as FolderBytes: only an objectId names a file
            raise FileNotFoundError(object_id)
        return f"{self.prefix}/{object_id}" if self.prefix else object_id

    def save(self, object_id: str, chunks: Iterable[bytes]) -> None:
        key = self._key(object_id)
        self._client.put_object(Bucket=self.bucket, Key=key, Body=b"".join(chunks))

    def open(self, object_id: str) -> Tuple[BinaryIO, int]:
        key = self._key(object_id)
        try:
            answer = self._client.get_object(Bucket=self.bucket, Key=key)
        except self._client.exceptions.NoSuchKey:
            raise FileNotFoundError(object_id) from None
        data = answer["Body"].read()
        return io.BytesIO(data), len(data)

    def drop(self, object_id: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=self._key(object_id))  # none is no error
