"""docs/deploying.md as written: its systemd units pass ``systemd-analyze verify``, and its nginx
configuration passes ``nginx -t`` and serves a running ``leanorm serve`` over TLS (a self-signed
certificate). Skipped where the machine lacks the tool."""
from __future__ import annotations

import json
import re
import shutil
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import pytest
import requests
import urllib3

from tests.live_socket import websockets_sync
from tests.served import serve

DOC = Path(__file__).resolve().parents[2] / "docs" / "deploying.md"
VENV_BIN = "/srv/leanorm/venv/bin/"


def _blocks(kind: str) -> List[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None or shutil.which("rsync") is None,
                    reason="needs systemd-analyze and rsync")
def test_the_units_verify(tmp_path: Path) -> None:
    service, backup, timer = _blocks("ini")
    here = str(Path(sys.executable).parent) + "/"
    assert Path(here, "leanorm").exists()
    files: Dict[str, str] = {"leanorm.service": service, "leanorm-backup.service": backup,
                             "leanorm-backup.timer": timer}
    for name, text in files.items():
        (tmp_path / name).write_text(text.replace(VENV_BIN, here))
    done = subprocess.run(["systemd-analyze", "verify", *(str(tmp_path / name) for name in files)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    assert "Restart=on-failure" in service


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(shutil.which("nginx") is None or shutil.which("openssl") is None,
                    reason="needs nginx and openssl")
def test_nginx_serves_leanorm_over_tls(tmp_path: Path) -> None:
    site, proxy = _blocks("nginx")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=api.example.com", "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
                   check=True, capture_output=True, timeout=120)
    (tmp_path / "leanorm-proxy.conf").write_text(proxy)
    http_port, https_port = _free_port(), _free_port()
    with serve(tmp_path / "app.sqlite3", "--workers", "1", "--trust-proxy", "--verbose",
               "--public-url", "https://api.example.com") as served:
        site = (site.replace("127.0.0.1:3000", f"127.0.0.1:{served.port}")
                .replace("/etc/letsencrypt/live/api.example.com/fullchain.pem", str(tmp_path / "cert.pem"))
                .replace("/etc/letsencrypt/live/api.example.com/privkey.pem", str(tmp_path / "key.pem"))
                .replace("/etc/nginx/leanorm-proxy.conf", str(tmp_path / "leanorm-proxy.conf"))
                .replace("listen 443", f"listen {https_port}").replace("listen [::]:443", f"listen [::]:{https_port}")
                .replace("listen 80", f"listen {http_port}").replace("listen [::]:80", f"listen [::]:{http_port}"))
        temp = tmp_path / "nginx-temp"
        temp.mkdir()
        (tmp_path / "nginx.conf").write_text(
            f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
            f"http {{\n access_log off;\n client_body_temp_path {temp}/body;\n proxy_temp_path {temp}/proxy;\n"
            f" fastcgi_temp_path {temp}/fastcgi;\n uwsgi_temp_path {temp}/uwsgi;\n scgi_temp_path {temp}/scgi;\n"
            f"{site}\n}}\n")
        config = ["nginx", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
        checked = subprocess.run([*config, "-t"], capture_output=True, text=True, timeout=60)
        assert checked.returncode == 0, checked.stderr
        nginx = subprocess.Popen([*config, "-g", "daemon off;"], stderr=subprocess.PIPE, text=True)
        try:
            urllib3.disable_warnings()
            base = f"https://127.0.0.1:{https_port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    health = requests.get(f"{base}/health", verify=False, timeout=5)
                    break
                except requests.ConnectionError:
                    assert time.monotonic() < deadline and nginx.poll() is None, nginx.stderr and nginx.stderr.read()
                    time.sleep(0.1)
            assert health.status_code == 200 and health.json() == {"status": "ok"}
            keys = {"X-LC-Id": served.app_id, "X-LC-Key": served.app_key}
            created = requests.post(f"{base}/1.1/classes/Deployed", json={"ok": True}, headers=keys, verify=False,
                                    timeout=10)
            assert created.status_code == 201, created.text
            assert requests.get(f"{base}/metrics", verify=False, timeout=10).status_code == 404
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            with websockets_sync.connect(f"wss://127.0.0.1:{https_port}/parse", ssl=context) as live:
                live.send(json.dumps({"op": "connect", "applicationId": served.app_id,
                                      "javascriptKey": served.app_key}))
                assert json.loads(live.recv(timeout=20))["op"] == "connected"  # a live query through nginx
            redirect = requests.get(f"http://127.0.0.1:{http_port}/health", allow_redirects=False, timeout=10)
            assert redirect.status_code == 301 and redirect.headers["Location"].startswith("https://")
        finally:
            nginx.terminate()
            nginx.wait(30)
