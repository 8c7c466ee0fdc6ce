"""Which web origins may embed the chat and call the API from a browser. Pure.

One policy feeds both enforcement points, so they cannot disagree: the CSP
``frame-ancestors`` directive (for the browser rendering the chat in an iframe) and the
CORS allow-list (for scripts calling the API).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LOCAL_ORIGINS = ("http://localhost:*", "http://127.0.0.1:*", "https://localhost:*", "https://127.0.0.1:*")
_ORIGIN = re.compile(r"^(https?)://([A-Za-z0-9.\-]+|\[[0-9a-fA-F:]+\])(?::(\d{1,5}|\*))?$")


class OriginError(ValueError):
    pass


def parse_origin(pattern: str) -> tuple[str, str, str | None]:
    """``scheme://host[:port|:*]`` -> (scheme, host, port or '*' or None). No paths, no wildcards in hosts."""
    match = _ORIGIN.match(pattern.strip().rstrip("/"))
    if not match:
        raise OriginError(f"not an origin: {pattern!r} (expected scheme://host or scheme://host:port)")
    scheme, host, port = match.groups()
    return scheme, host.lower(), port


@dataclass(frozen=True)
class EmbedPolicy:
    patterns: tuple[str, ...]

    @classmethod
    def from_setting(cls, origins: list[str] | None) -> EmbedPolicy:
        """None -> localhost on any port; a list replaces that default. Malformed entries are refused."""
        patterns = LOCAL_ORIGINS if origins is None else tuple(origins)
        for pattern in patterns:
            parse_origin(pattern)
        return cls(tuple(p.strip().rstrip("/") for p in patterns))

    def allows(self, origin: str | None) -> bool:
        """An Origin header value as browsers send it (lower-case host, no slash or spaces, a numeric port
        or none) that some pattern admits. Taken verbatim, like the CORS check does with origin_regex()."""
        match = _ORIGIN.fullmatch(origin or "")
        if not match or match.group(3) == "*":
            return False
        scheme, host, port = match.groups()
        port = port or ("443" if scheme == "https" else "80")
        for pattern in self.patterns:
            p_scheme, p_host, p_port = parse_origin(pattern)
            p_port = p_port or ("443" if p_scheme == "https" else "80")
            if p_scheme == scheme and p_host == host and p_port in ("*", port):
                return True
        return False

    def origin_regex(self) -> str:
        """One regular expression matching exactly the origins ``allows`` accepts (for CORS)."""
        alternatives = []
        for pattern in self.patterns:
            scheme, host, port = parse_origin(pattern)
            default = "443" if scheme == "https" else "80"
            if port == "*":
                port_re = r"(?::\d{1,5})?"
            elif port is None or port == default:
                port_re = f"(?::{default})?"
            else:
                port_re = f":{port}"
            alternatives.append(f"{re.escape(scheme)}://{re.escape(host)}{port_re}")
        # No pattern: nothing matches (not even an empty Origin header, which "^$" would echo).
        return "^(?:" + "|".join(alternatives) + ")$" if alternatives else "(?!)"

    def frame_ancestors(self) -> str:
        """CSP header value: the server itself ('self') plus every allowed origin."""
        return "frame-ancestors " + " ".join(("'self'", *self.patterns))
