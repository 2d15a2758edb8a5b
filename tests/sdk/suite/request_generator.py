"""``tests/request_generator.py`` for the official SDK's test suite (its sdist ships without it).

``test_engine`` signs requests to its Engine with ``generate_request(key)`` and
``generate_request(master_key, True)`` and reads them back as the ``X-LC-Sign`` header the SDK's
``AuthorizationMiddleware`` checks: ``md5(timestamp + key),timestamp`` with ``,master`` appended when
the key is the master key.
"""
import hashlib
import time


def generate_request(key, is_master=False):
    """The ``X-LC-Sign`` value for ``key`` at the current time (milliseconds)."""
    timestamp = str(int(time.time() * 1000))
    sign = hashlib.md5((timestamp + key).encode("utf-8")).hexdigest()
    return ",".join([sign, timestamp, "master"] if is_master else [sign, timestamp])
