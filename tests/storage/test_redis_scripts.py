"""restauth's Lua scripts on Redis: sent by digest, the text only when the server lacks it."""

from __future__ import annotations

import uuid

from restauth._storage.redis import LuaScript
from tests.storage.test_round_trips import counting_redis_client


def test_a_script_the_server_lacks_is_sent_once(redis_prefix: str) -> None:
    client = counting_redis_client()
    script = LuaScript(client, f"-- {uuid.uuid4().hex}, never loaded before\nreturn ARGV[1]")
    assert script(0, "first") == b"first"
    assert client.commands == ["EVALSHA", "EVAL"]  # NOSCRIPT, then the text (cached there)
    client.commands.clear()
    assert script(0, "second") == b"second"
    assert client.commands == ["EVALSHA"]
