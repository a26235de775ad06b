"""Who a request came from: the address the history records, and the bucket every limit counts.

One notion for every per-address limit (password attempts, pairing exchange, device sign-in,
the history's bound on refusals), so an IPv6 client cannot get a fresh allowance from each of
the 2**64 addresses its network hands it.
"""

import ipaddress

from django.conf import settings


def client_address(request):
    """The address the request came from.

    Behind a trusted proxy (``TRUST_PROXY_HEADERS``) that is the last X-Forwarded-For entry,
    the one the proxy itself appended; earlier entries are whatever the client sent.
    """
    if settings.TRUST_PROXY_HEADERS:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(forwarded))
        except ValueError:
            pass
    return request.META.get("REMOTE_ADDR") or None


def address_bucket(request):
    """The client as limits count it: an IPv4 address, or the /64 network of an IPv6 one.

    One home or phone usually holds a whole IPv6 /64 and may use any address in it; an
    IPv4-mapped IPv6 address counts as its IPv4 address.
    """
    address = client_address(request) or "-"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        if parsed.ipv4_mapped:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)
