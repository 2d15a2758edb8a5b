"""A disk that refuses a write: the client is told so (503), nothing half-stored, and the server goes on."""
from __future__ import annotations

from pathlib import Path

import requests

from tests.served import serve

MiB = 1024 * 1024


def test_a_file_size_limit_answers_an_error_that_says_so(tmp_path: Path) -> None:
    with serve(tmp_path / "app.sqlite3", "--workers", "1", file_size=2 * MiB) as served:
        headers = {"X-LC-Id": served.app_id, "X-LC-Key": served.app_key}
        url = f"{served.base_url}/1.1/classes/Blob"
        stored, refused = 0, None
        for _ in range(200):  # 64 KiB each: past the 2 MiB limit long before the end
            answer = requests.post(url, json={"text": "x" * 65536}, headers=headers, timeout=30)
            if answer.status_code != 201:
                refused = answer
                break
            stored += 1
        assert refused is not None
        assert refused.status_code == 503, refused.text
        assert "disk" in refused.json()["error"] and "nothing was stored" in refused.json()["error"]
        count = requests.get(url, params={"count": 1, "limit": 0}, headers=headers, timeout=30)
        assert count.status_code == 200 and count.json()["count"] == stored
