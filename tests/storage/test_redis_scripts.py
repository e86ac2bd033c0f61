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


def test_a_client_that_decodes_responses_reads_tokens_alike(redis_prefix: str) -> None:
    import redis

    from restauth.tokens.redis import RedisTokenManager
    from tests.services import redis_url
    from tests.storage.conftest import SECRET_KEY

    client = redis.Redis.from_url(redis_url(), decode_responses=True)
    tokens = RedisTokenManager(client, prefix=redis_prefix, secret_key=SECRET_KEY)
    grant = tokens.issue("zoë user", "stämp 1")
    checked = tokens.authenticate(grant.token)
    assert checked is not None
    assert (checked.userid, checked.stamp, checked.valid_until) == (
        "zoë user",
        "stämp 1",
        grant.valid_until,
    )
    client.close()
