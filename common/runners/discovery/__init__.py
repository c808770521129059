"""How runners are found: a registry of discoveries, one module each. The platform's
choice is made by NIL_POOL_BACKEND (common/settings.py, POOL_BACKENDS)."""

from __future__ import annotations

from common.runners.discovery.base import Discovery
from common.runners.discovery.directory import DirectoryDiscovery
from common.runners.discovery.dns import DnsDiscovery
from common.runners.discovery.static import StaticDiscovery

DISCOVERIES: dict[str, type[Discovery]] = {
    "directory": DirectoryDiscovery,
    "static": StaticDiscovery,
    "dns": DnsDiscovery,
}

__all__ = ["DISCOVERIES", "DirectoryDiscovery", "Discovery", "DnsDiscovery", "StaticDiscovery"]
