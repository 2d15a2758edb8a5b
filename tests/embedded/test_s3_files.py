"""Hosted files' bytes in S3-compatible storage (``leanorm serve --files s3://bucket/prefix``): two nodes
keeping their files in one bucket serve each other's uploads, and a dropped file leaves the bucket.

The bucket is moto's S3 server, run here as a real HTTP endpoint (``AWS_ENDPOINT_URL``, as any
S3-compatible store is named to boto3); skipped without ``moto[server]`` and ``boto3``."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.security.raw_http import Raw
from tests.security.test_files_security import download, upload
from tests.served import serve

BUCKET = "leanorm-files"


@pytest.fixture()
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's S3 server on a port the OS picks (bound before its address is known: no other server can be
    there instead), with an empty bucket; boto3 (here and in the servers the test starts, which inherit
    the environment) pointed at it."""
    moto_server = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    s3 = moto_server.ThreadedMotoServer("127.0.0.1", 0, verbose=False)
    s3.start()
    endpoint = "http://%s:%d" % s3.get_host_and_port()
    for name, value in (("AWS_ENDPOINT_URL", endpoint), ("AWS_ACCESS_KEY_ID", "test"),
                        ("AWS_SECRET_ACCESS_KEY", "test"), ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    try:
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        s3.stop()


def _keys() -> list:
    import boto3
    listed = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="app/")
    return [item["Key"] for item in listed.get("Contents", [])]


def test_two_nodes_keep_and_serve_files_in_one_bucket(tmp_path: Path, s3_endpoint: str) -> None:
    database = tmp_path / "app.sqlite3"
    files = f"s3://{BUCKET}/app"
    with serve(database, "--files", files) as first, serve(database, "--files", files) as second:
        stored = upload(Raw(first, "parse"), "hello.txt", b"hello from the first node")
        assert len(_keys()) == 1 and not (tmp_path / "app.sqlite3.files").exists()
        got = download(second, stored["url"])
        assert (got.status_code, got.content) == (200, b"hello from the first node")
        leancloud = upload(Raw(second, "leancloud"), "second.bin", b"\x00\x01 bytes")
        assert download(first, leancloud["url"]).content == b"\x00\x01 bytes"
        assert len(_keys()) == 2
        Raw(first, "leancloud").ok("DELETE", f"files/{leancloud['objectId']}", master=True)
        assert len(_keys()) == 1
        assert download(second, leancloud["url"]).status_code == 404
