"""An Engine with a function that holds its handler thread until a file appears (``test_health_answers_while
every_handler_thread_is_busy``): it makes the file ``started`` when it begins, and waits for ``release``."""
from pathlib import Path
import os
import time

from leanorm.engine import Engine

engine = Engine()


@engine.define
def hold(started: str, release: str) -> str:
    Path(started).touch()
    deadline = time.monotonic() + 60
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.05)
    return "released"
