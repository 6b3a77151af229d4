"""Where a webhook may point: the SSRF guard.

A webhook makes the platform send requests to an address an organisation chose, from inside the
government network. Without a guard, an admin could point it at ``http://127.0.0.1:6379``, the
cloud metadata service or an intranet host and use the delivery log as a probe. The rules:

- ``https`` only; ``http`` only when ``NOTIFY_WEBHOOK_ALLOW_HTTP`` is on (tests, development).
- No user name or password in the URL; a host is required.
- Unless ``NOTIFY_WEBHOOK_ALLOW_PRIVATE`` is on: no literal IP address that is not globally
  routable (loopback, private, link-local, CGNAT, multicast, reserved, IPv4-mapped forms of
  those), no numeric host spellings other than dotted quads (``2130706433``, ``0x7f.1``), and no
  local names (``localhost``, ``*.localhost``, ``*.local``, ``*.internal``, ``*.localdomain``,
  names without a dot).
- At delivery time the name is resolved and EVERY address must pass the same test; the request
  is then sent to the checked address (the name travels in ``Host`` and in TLS SNI, so the
  certificate is still verified against the name). A name that resolves to a public address
  when saved and to ``127.0.0.1`` when sent (DNS rebinding) is therefore refused at send time.
- Redirects are not followed (a 3xx answer is a failed attempt).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from weifei.core.errors import ApplicationError

LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+))*$", re.IGNORECASE)


def allow_http() -> bool:
    return bool(getattr(settings, "NOTIFY_WEBHOOK_ALLOW_HTTP", False))


def allow_private() -> bool:
    return bool(getattr(settings, "NOTIFY_WEBHOOK_ALLOW_PRIVATE", False))


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str  # lower-case name or literal address, without brackets
    port: int


def _refused(message: str, code: str) -> ApplicationError:
    return ApplicationError(message, code=code, field="url")


def address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def url_check(url: str) -> Destination:
    """Refuse a URL a webhook may not use (``ApplicationError`` on field ``url``)."""
    url = (url or "").strip()
    if not url:
        raise _refused("Webhook 地址不能为空", "url_required")
    if len(url) > 500:
        raise _refused("Webhook 地址不能超过 500 个字符", "url_too_long")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _refused("Webhook 地址格式无效", "url_invalid") from exc
    scheme = parts.scheme.lower()
    if scheme == "http" and not allow_http():
        raise _refused("Webhook 地址必须使用 https（本系统未允许 http）", "url_scheme")
    if scheme not in ("http", "https"):
        raise _refused("Webhook 地址必须以 https:// 开头", "url_scheme")
    if parts.username or parts.password or "@" in parts.netloc:
        raise _refused("Webhook 地址不能包含用户名或密码", "url_credentials")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise _refused("Webhook 地址缺少主机名", "url_invalid")
    if any(ch.isspace() for ch in url):
        raise _refused("Webhook 地址不能包含空白字符", "url_invalid")
    destination = Destination(scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80))
    if allow_private():
        return destination
    try:
        literal: str | None = str(ipaddress.ip_address(host))
    except ValueError:
        literal = None
    if literal is not None:
        if not address_allowed(literal):
            raise _refused("Webhook 地址不能指向内网、本机或保留地址", "url_private_host")
        return destination
    if _NUMERIC_HOST.match(host):
        raise _refused("Webhook 地址的主机名无效（不接受数字形式的地址）", "url_private_host")
    if host == "localhost" or host.endswith(LOCAL_SUFFIXES) or "." not in host:
        raise _refused("Webhook 地址不能指向本机或内网主机名", "url_private_host")
    return destination


def resolve(host: str, port: int) -> list[str]:
    """The addresses a name resolves to (tests replace this function)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class DestinationRefused(Exception):
    """The destination may not be contacted now (resolution failed or an address is not allowed)."""


def pinned_address(destination: Destination) -> str:
    """The checked address to connect to (see the module docstring)."""
    try:
        literal: str | None = str(ipaddress.ip_address(destination.host))
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = resolve(destination.host, destination.port)
        except OSError as exc:
            raise DestinationRefused(f"无法解析主机名 {destination.host}：{exc}") from exc
    if not addresses:
        raise DestinationRefused(f"无法解析主机名 {destination.host}")
    if not allow_private():
        for address in addresses:
            if not address_allowed(address):
                raise DestinationRefused(f"主机名 {destination.host} 解析到不允许的地址 {address}")
    return addresses[0]
