"""Point a peer at the sandbox without touching /etc/hosts: a `sitecustomize.py` on the peer's
PYTHONPATH makes its interpreter resolve HubSpot's API host names to the sandbox's loopback
address and port, and the sandbox's CA is trusted through REQUESTS_CA_BUNDLE / SSL_CERT_FILE.
The peer's own code and URLs stay as published (TLS still checks the name it asked for)."""

from __future__ import annotations

import os
from pathlib import Path

HUBSPOT_HOSTS = ("api.hubapi.com", "api.hubspot.com")
# Salesforce's login host: the token answer's instance_url is the host asked, so data calls follow
SALESFORCE_HOSTS = ("login.salesforce.com",)

SITECUSTOMIZE = '''\
"""Written by Handoff's bench/peers.py: resolve the CRM's API hosts to the local sandbox."""
import os
import socket

_hosts = set(filter(None, os.environ.get("HANDOFF_PEER_HOSTS", "").split(",")))
_host, _, _port = os.environ.get("HANDOFF_PEER_TARGET", "127.0.0.1:443").rpartition(":")
_real = socket.getaddrinfo


def _getaddrinfo(host, port, *args, **kwargs):
    if isinstance(host, bytes):
        host = host.decode()
    if host in _hosts:
        return _real(_host, int(_port), *args, **kwargs)
    return _real(host, port, *args, **kwargs)


socket.getaddrinfo = _getaddrinfo

# requests reads REQUESTS_CA_BUNDLE only in Session.request; clients that build a request and
# call Session.send (the Meltano SDK) verify against certifi's bundle: trust the sandbox's there.
_ca = os.environ.get("HANDOFF_PEER_CA")
if _ca:
    try:
        import certifi
    except ImportError:
        pass
    else:
        certifi.where = lambda: _ca
'''


def write_shim(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return directory


def peer_environment(
    shim_dir: Path, port: int, ca_file: str, hosts: tuple[str, ...] = HUBSPOT_HOSTS
) -> dict[str, str]:
    """The peer process's environment: the shim first on PYTHONPATH, the sandbox CA trusted,
    no proxies (a proxy would resolve the name itself)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "pythonpath")
    }
    env |= {
        "PYTHONPATH": str(shim_dir),
        "HANDOFF_PEER_HOSTS": ",".join(hosts),
        "HANDOFF_PEER_TARGET": f"127.0.0.1:{port}",
        "HANDOFF_PEER_CA": ca_file,
        "REQUESTS_CA_BUNDLE": ca_file,
        "SSL_CERT_FILE": ca_file,
        "CURL_CA_BUNDLE": ca_file,
        "NO_PROXY": "*",
        "PYTHONUNBUFFERED": "1",
    }
    return env
