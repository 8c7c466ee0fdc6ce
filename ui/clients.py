"""Who a request is, for the rate limit: the position of the configured API key it presents, else
its peer address. With no keys configured a presented token proves nothing, so it must not buy a
fresh budget: the address decides. Raw tokens are never used as names (they would sit in memory
and could be read back from a heap dump or a debugger).

The peer address is the socket's, unless the peer is a configured trusted proxy: then uvicorn has
already replaced it with the client named in X-Forwarded-For (``ui.serving``). All OpenAI-client
users sharing one configured key share one budget."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from pydantic import SecretStr


def key_position(presented: str | None, keys: Sequence[SecretStr]) -> int | None:
    """Index of the configured key equal to ``presented`` (constant-time comparisons), else None."""
    if not presented:
        return None
    found = None
    for position, key in enumerate(keys):
        # Compare against every key, so the time taken does not tell which one matched.
        if hmac.compare_digest(presented.encode(), key.get_secret_value().encode()) and found is None:
            found = position
    return found


def client_id(presented: str | None, keys: Sequence[SecretStr], peer: str | None) -> str:
    position = key_position(presented, keys) if keys else None
    return f"key:{position}" if position is not None else f"ip:{peer or 'unknown'}"
