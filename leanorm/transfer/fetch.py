"""Fetching the bytes a file reference names, without letting the reference reach the operator's network.

A ``_File`` row's ``url`` (or a File value's, on Parse Server, where clients write them verbatim) is
chosen by whoever made the file, possibly an app's user. ``leanorm import``, ``export``, ``migrate``
and ``verify`` fetch it from the operator's machine, so an unchecked url would read the cloud's
metadata service or a loopback admin port and publish the answer as a file. :func:`fetch` is the one
way the migration tools fetch a url:

* only ``http`` and ``https``;
* the host is resolved once, every address it resolves to must be public (not loopback, private,
  link-local, shared/CGNAT, multicast, reserved or unspecified; an IPv4 address inside an IPv6 one is
  judged as that IPv4 address), and the connection goes to the address that was checked, so a DNS
  answer that changes between the check and the connection changes nothing;
* every redirect is a new url checked the same way, at most :data:`MAX_REDIRECTS` of them;
* the bytes are capped (:attr:`FetchPolicy.max_bytes`) and the whole fetch has a deadline.

Private addresses are fetched only when the operator says so (``allow_private``, the CLI's
``--allow-private-file-urls``), or on an origin the operator named: the backend being exported or
copied (its own file urls).

>>> policy = FetchPolicy(resolver=lambda host, port: ["169.254.169.254"])
>>> try:
...     check_url("http://metadata.example/latest/meta-data/", policy)
... except RefusedURL as refused:
...     print(refused)
http://metadata.example/latest/meta-data/: metadata.example is 169.254.169.254, not a public address (--allow-private-file-urls fetches it)
"""
from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass, field, replace
from typing import BinaryIO, Callable, FrozenSet, List, Optional, Tuple, Union
from urllib.parse import urljoin, urlsplit

import requests.certs
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, Timeout
from urllib3.exceptions import HTTPError
from urllib3.response import BaseHTTPResponse

__all__ = ["FetchPolicy", "RefusedURL", "fetch", "check_url", "is_public", "origin", "system_resolver",
           "MAX_REDIRECTS", "DEFAULT_MAX_BYTES", "DEFAULT_DEADLINE"]

#: redirects followed for one url
MAX_REDIRECTS = 5
#: the largest file fetched by default (LeanCloud's console takes uploads far smaller; a bigger file is
#: fetched with --max-file-size)
DEFAULT_MAX_BYTES = 1 << 30
#: seconds for one whole fetch, redirects included
DEFAULT_DEADLINE = 600.0
#: seconds to connect, and without a byte once connected
_SOCKET_TIMEOUT = 30.0
_CHUNK = 1 << 16
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: IPv6 prefixes that carry an IPv4 address a gateway connects to (NAT64, RFC 6052)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
#: IANA's special-purpose ranges, listed here rather than taken from the ``ipaddress`` flags alone, whose
#: lists vary between Python releases (192.0.0.0/24 is private only from 3.12.4 and 3.11.10 on)
_NOT_PUBLIC = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    "::/128", "::1/128", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "fc00::/7", "fe80::/10",
    "fec0::/10", "ff00::/8"))

#: (host, port) -> the addresses it resolves to
Resolver = Callable[[str, int], List[str]]


class RefusedURL(OSError):
    """A url the fetch policy does not fetch (its scheme, its address, its redirects or its size)."""


def system_resolver(host: str, port: int) -> List[str]:
    """The addresses ``host`` resolves to, in the system's order (an address literal is itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"{host} does not resolve: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> Optional[ipaddress.IPv4Address]:
    """The IPv4 address a connection to ``address`` really reaches, where it embeds one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: str) -> bool:
    """Whether ``address`` (an IP literal) is one the internet routes to: not loopback, private,
    link-local (the cloud metadata services: 169.254.169.254, fd00:ec2::254), shared (100.64/10,
    CGNAT and Alibaba's metadata), IETF-assigned (192.0.0.0/24: Oracle's older metadata; Teredo),
    documentation, benchmarking, multicast, reserved or unspecified."""
    try:
        ip: Union[ipaddress.IPv4Address, ipaddress.IPv6Address] = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            return is_public(str(inner))
    if any(ip in network for network in _NOT_PUBLIC if network.version == ip.version):
        return False
    return ip.is_global and not (ip.is_multicast or ip.is_private or ip.is_loopback or ip.is_link_local
                                 or ip.is_reserved or ip.is_unspecified)


def origin(url: str) -> Optional[str]:
    """``scheme://host:port`` of an http(s) ``url`` (the port always written), else None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return f"{parts.scheme}://{parts.hostname.lower()}:{port}"


@dataclass(frozen=True)
class FetchPolicy:
    """What :func:`fetch` may fetch (see the module)."""

    #: fetch from private addresses too (the operator's own file server on a private network)
    allow_private: bool = False
    #: origins (:func:`origin`) fetched whatever their address: a backend the operator named
    trusted_origins: FrozenSet[str] = frozenset()
    max_bytes: int = DEFAULT_MAX_BYTES
    #: seconds for one whole fetch
    deadline: float = DEFAULT_DEADLINE
    max_redirects: int = MAX_REDIRECTS
    #: how hosts are resolved (tests give their own: no test reaches a real name server)
    resolver: Resolver = field(default=system_resolver, compare=False)

    def trusting(self, *urls: Optional[str]) -> "FetchPolicy":
        """This policy, also fetching from the origins of ``urls`` (backends the operator named)."""
        named = {o for o in map(origin, filter(None, urls)) if o}
        return replace(self, trusted_origins=self.trusted_origins | frozenset(named))


def check_url(url: str, policy: FetchPolicy) -> Tuple[str, int, str]:
    """The (host, port, address) ``url`` is fetched from: the address is one ``host`` resolved to, checked
    against ``policy``; :class:`RefusedURL` when the policy refuses it."""
    where = origin(url)
    parts = urlsplit(url)
    if where is None or parts.hostname is None:
        raise RefusedURL(f"{url}: only http(s) urls with a host are fetched")
    host, port = parts.hostname, int(where.rsplit(":", 1)[1])
    addresses = policy.resolver(host, port)
    if not addresses:
        raise OSError(f"{url}: {host} resolves to no address")
    if not (policy.allow_private or where in policy.trusted_origins):
        for address in addresses:
            if not is_public(address):
                named = address if host.strip("[]") == address else f"{host} is {address},"
                raise RefusedURL(f"{url}: {named} not a public address (--allow-private-file-urls fetches it)")
    return host, port, addresses[0]


def _pool(url: str, host: str, port: int, address: str, timeout: Timeout) -> HTTPConnectionPool:
    """A connection to ``address`` that speaks to ``host`` (its TLS name and certificate, its Host header)."""
    if urlsplit(url).scheme == "https":
        return HTTPSConnectionPool(address, port, timeout=timeout, retries=False, maxsize=1,
                                   cert_reqs="CERT_REQUIRED", ca_certs=requests.certs.where(),
                                   server_hostname=host, assert_hostname=host)
    return HTTPConnectionPool(address, port, timeout=timeout, retries=False, maxsize=1)


def fetch(url: str, into: BinaryIO, policy: FetchPolicy = FetchPolicy()) -> int:
    """Write the bytes at ``url`` to ``into`` as :data:`policy <FetchPolicy>` allows; their length.
    :class:`RefusedURL` for a url (or a redirect) the policy refuses, a file over its size, a fetch
    over its deadline; OSError for any other failure."""
    deadline = time.monotonic() + policy.deadline
    for _ in range(policy.max_redirects + 1):
        host, port, address = check_url(url, policy)
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        wait = min(_SOCKET_TIMEOUT, deadline - time.monotonic())
        if wait <= 0:
            raise _late(url, policy)
        pool = _pool(url, host, port, address, Timeout(connect=wait, read=wait))
        try:
            response = pool.urlopen("GET", target, headers={"Host": parts.netloc.rsplit("@", 1)[-1],
                                                            "Accept-Encoding": "identity"},
                                    redirect=False, retries=False, preload_content=False,
                                    assert_same_host=False)
            try:
                if response.status in _REDIRECTS and response.headers.get("Location"):
                    url = urljoin(url, response.headers["Location"])
                    continue
                if response.status != 200:
                    raise OSError(f"GET {url}: HTTP {response.status}")
                return _copy(response, into, url, policy, deadline)
            finally:
                response.release_conn()
        except HTTPError as exc:
            raise OSError(f"GET {url}: {exc}") from exc
        finally:
            pool.close()
    raise RefusedURL(f"{url}: more than {policy.max_redirects} redirects")


def _late(url: str, policy: FetchPolicy) -> RefusedURL:
    return RefusedURL(f"{url}: not fetched within {policy.deadline:g} s (--file-deadline)")


def _copy(response: BaseHTTPResponse, into: BinaryIO, url: str, policy: FetchPolicy, deadline: float) -> int:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > policy.max_bytes:
        raise RefusedURL(f"{url}: {declared} bytes, over the {policy.max_bytes}-byte limit (--max-file-size)")
    written = 0
    while chunk := response.read1(_CHUNK):  # one read at a time: a trickle cannot hold a whole chunk's wait
        written += len(chunk)
        if written > policy.max_bytes:
            raise RefusedURL(f"{url}: over the {policy.max_bytes}-byte limit (--max-file-size)")
        if time.monotonic() > deadline:
            raise _late(url, policy)
        into.write(chunk)
    return written
