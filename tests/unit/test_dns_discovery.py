"""The Kubernetes discovery backend resolves every address family (issue 24): runner pods
of an IPv6 or dual-stack cluster are found too, in the host:port form the transport
opens. Literal addresses only: getaddrinfo answers them without asking a DNS server."""

import pytest

from common.runners.discovery.dns import DnsDiscovery


@pytest.mark.parametrize(
    ("service", "addresses"),
    [("127.0.0.1:9000", ["127.0.0.1:9000"]), ("::1:9000", ["[::1]:9000"])],
)
def test_ipv4_and_ipv6_runner_addresses(service, addresses):
    assert DnsDiscovery(service).addresses() == addresses
