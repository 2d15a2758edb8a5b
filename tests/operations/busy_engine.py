"""An Engine with a function that holds its handler thread until a file appears (``test_health_answers_while
every_handler_thread_is_busy``): the path of that file comes in the call's parameters."""
import os
import time

from leanorm.engine import Engine

engine = Engine()


@engine.define
def hold(release: str) -> str:
    deadline = time.monotonic() + 60
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.05)
    return "released"
