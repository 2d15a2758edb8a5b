"""The deadline sockets, without a server: every read and write checks what is left of the deadline."""
import socket
import ssl
import time

import pytest

from leanorm import transport


def test_a_bounded_socket_refuses_to_wait_past_the_deadline():
    left, right = socket.socketpair()
    try:
        left.__class__ = transport._DeadlineSocket
        right.sendall(b"x")
        reset = transport._deadline.set(time.monotonic() + 30)
        try:
            assert left.recv(1) == b"x"
        finally:
            transport._deadline.reset(reset)
        reset = transport._deadline.set(time.monotonic() - 1)
        try:
            with pytest.raises(socket.timeout):
                left.recv(1)
            with pytest.raises(socket.timeout):
                left.sendall(b"y")
        finally:
            transport._deadline.reset(reset)
        right.sendall(b"z")
        assert left.recv(1) == b"z"  # outside a request (no deadline): a plain socket
    finally:
        left.close()
        right.close()


def test_tls_sockets_can_be_bounded_in_place():
    raw = socket.socket()
    tls = ssl.create_default_context().wrap_socket(raw, server_hostname="example.com", do_handshake_on_connect=False)
    try:
        tls.__class__ = transport._BOUNDED[type(tls)]
        assert isinstance(tls, ssl.SSLSocket) and isinstance(tls, transport._Bounded)
    finally:
        tls.close()
