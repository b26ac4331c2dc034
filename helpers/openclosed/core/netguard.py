"""The local-only guard: while it is on, this process may open network
connections to its own machine (loopback: 127.0.0.0/8, ::1, ``localhost``,
Unix sockets) and nowhere else. (Introduced in
``05_cost_privacy_transparency.ipynb``; switched with
``oc.setup(local_only=True)``.)

It is a Python audit hook (PEP 578) on ``socket.connect``, ``socket.sendto``,
``socket.sendmsg`` and ``socket.getaddrinfo``: it runs inside the call, before
the operating system sends anything, so any library using Python sockets
(the ``openai`` client, ``httpx``, ``requests``, ``huggingface_hub``) is
covered, and a name lookup for a remote host is refused too (the DNS query
itself would leave the machine). Audit hooks cannot be removed, so the hook
is installed on the first switch-on and does nothing while the guard is off.

What it does not cover: code that opens sockets outside Python (C libraries
with their own networking, subprocesses). The refused call raises
:class:`~openclosed.core.errors.LocalOnlyError`, naming the host and the model
that tried (:func:`attribute` records which model is running).
"""

from __future__ import annotations

import contextvars
import ipaddress
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .errors import LocalOnlyError

_EVENTS = {"socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo"}
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
_lock = threading.Lock()
_state = {"on": False, "installed": False}
_model: contextvars.ContextVar[str | None] = contextvars.ContextVar("openclosed_model", default=None)


def enabled() -> bool:
    """Whether the guard is on in this process."""
    return _state["on"]


def set_enabled(on: bool) -> None:
    """Switch the guard on or off (the hook is installed on the first switch-on)."""
    with _lock:
        if on and not _state["installed"]:
            sys.addaudithook(_hook)
            _state["installed"] = True
        _state["on"] = bool(on)


@contextmanager
def attribute(model: str | None) -> Iterator[None]:
    """Name ``model`` in any refusal raised by this thread (and by contexts copied from it) inside the block."""
    token = _model.set(model)
    try:
        yield
    finally:
        _model.reset(token)


def current_model() -> str | None:
    """The model named by the innermost :func:`attribute` block, if any."""
    return _model.get()


def is_local_host(host: Any) -> bool:
    """True for loopback addresses and names (127.0.0.0/8, ::1, IPv4-mapped
    loopback, ``localhost``); False for everything else, including 0.0.0.0."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host is None:
        return True  # getaddrinfo(None, port): the local wildcard, no lookup
    host = str(host).strip().strip("[]").split("%")[0].rstrip(".").lower()
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return bool(ip.is_loopback or (mapped is not None and mapped.is_loopback))


def check_host(host: Any, model: str | None = None, what: str = "connect to") -> None:
    """Raise :class:`LocalOnlyError` if the guard is on and ``host`` is not this machine."""
    if _state["on"] and not is_local_host(host):
        raise LocalOnlyError(str(host), model or _model.get(), what)


def check_url(url: str, model: str | None = None) -> None:
    """:func:`check_host` for the host of ``url`` (before any client is built)."""
    from urllib.parse import urlsplit

    check_host(urlsplit(url).hostname or url, model, "send requests to")


def _address_host(sock: Any, address: Any) -> Any:
    family = getattr(sock, "family", None)
    if family is not None and family not in (socket.AF_INET, socket.AF_INET6):
        return None  # Unix sockets, netlink...: not the network
    if isinstance(address, tuple) and address:
        return address[0]
    return None


def _hook(event: str, args: tuple) -> None:
    if not _state["on"] or event not in _EVENTS:
        return
    if event == "socket.getaddrinfo":
        check_host(args[0], what="look up")
    elif event == "socket.connect":
        host = _address_host(args[0], args[1])
        if host is not None:
            check_host(host)
    else:  # sendto / sendmsg: (socket, address); no address means an already connected socket
        address = args[-1] if len(args) > 1 else None
        host = _address_host(args[0], address) if address is not None else None
        if host is not None:
            check_host(host, what="send to")


__all__ = ["attribute", "check_host", "check_url", "current_model", "enabled", "is_local_host", "set_enabled"]
