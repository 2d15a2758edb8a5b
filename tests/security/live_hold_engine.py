"""An Engine whose ``beforeSubscribe`` holds its subscription until the test lets it go, for
``test_live_redteam`` (through ``leanorm serve --engine tests.security.live_hold_engine:engine``).

``LEANORM_TEST_HOLD_DIR`` names a folder: the trigger writes a file there for each subscription it holds,
and waits until ``release`` exists there (at most a minute; the server stops waiting for it after its
own trigger timeout, 5 s)."""
import os
import time
import uuid

from leanorm.engine import Engine, LiveSubscribeRequest

engine = Engine()


@engine.before_subscribe("LiveHeld")
def hold(request: LiveSubscribeRequest) -> None:
    folder = os.environ["LEANORM_TEST_HOLD_DIR"]
    with open(os.path.join(folder, f"held-{uuid.uuid4().hex}"), "w"):
        pass
    ends = time.monotonic() + 60
    while not os.path.exists(os.path.join(folder, "release")) and time.monotonic() < ends:
        time.sleep(0.01)
