"""A client of Parse Server or LeanCloud loads only the client: not the embedded server, not cloud code,
not the HTTP server or the migration tools' dependencies. Each check runs in a fresh interpreter, as an
app starts."""
import json
import os
import subprocess
import sys
import warnings

import pytest

import leanorm
from leanorm.config import ImplicitBackendWarning
from leanorm.errors import ConfigurationError

SERVER_SIDE = ("leanorm.embedded", "leanorm.engine", "leanorm.transfer", "leanorm.cli", "granian", "re2", "tqdm",
               "multipart")


def _fresh(code: str, cwd: str = ".") -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")]))}
    env.pop("LEANORM_URL", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _loaded_after(statements: str) -> list:
    code = (f"import json, sys\n{statements}\n"
            f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {SERVER_SIDE!r} "
            f"or '.'.join(m.split('.')[:2]) in {SERVER_SIDE!r})))")
    return _fresh(code)


@pytest.mark.parametrize("url", ["parse://app:key@127.0.0.1:9/parse", "leancloud://app:key@api.example.com"])
def test_a_remote_client_loads_no_server_side_module(url):
    assert _loaded_after(f"import leanorm\nclient = leanorm.connect({url!r})\nclass Post(leanorm.Model):\n    title = leanorm.StringField()\n"
                         "Post.objects.filter(title='x')") == []


def test_the_embedded_server_loads_on_the_first_local_connect():
    loaded = _loaded_after("import leanorm\nleanorm.connect('local://:memory:')")
    assert "leanorm.embedded" in loaded and "leanorm.engine" not in loaded


def test_cloud_code_is_reachable_from_the_package_as_before():
    assert _loaded_after("import leanorm\nleanorm.engine.Engine") != []


def test_a_query_with_nothing_connected_is_refused_rather_than_writing_a_local_file(tmp_path):
    code = ("import json, leanorm\nclass Post(leanorm.Model):\n    title = leanorm.StringField()\n"
            "try:\n    Post.objects.count()\nexcept leanorm.errors.ConfigurationError as exc:\n"
            "    print(json.dumps(str(exc)))\n")
    assert "leanorm.connect" in _fresh(code, cwd=str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_connect_without_a_url_or_leanorm_url_says_which_file_it_uses(tmp_path, monkeypatch):
    monkeypatch.delenv("LEANORM_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(leanorm.config, "_warned_default_url", False)
    with pytest.warns(ImplicitBackendWarning, match=str(tmp_path / "leanorm.sqlite3")):
        client = leanorm.connect(default=False)
    client.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per process
        leanorm.connect(default=False).close()


def test_configuration_error_is_no_protocol_error():
    assert not issubclass(ConfigurationError, leanorm.errors.LeanCloudError)


def test_websockets_loads_only_when_a_live_query_connects():
    loaded = _fresh("import json, sys, leanorm\nleanorm.connect('parse://app:key@127.0.0.1:9/parse')\n"
                    "class Post(leanorm.Model):\n    title = leanorm.StringField()\n"
                    "Post.objects.filter(title='x').live()\n"  # made, not subscribed: nothing connects
                    "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'websockets')))")
    assert loaded == []
