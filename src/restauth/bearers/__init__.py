"""Bearer tokens signed by someone else: an identity provider's JWTs, checked against its
JWKS (``restauth.bearers.jwt``, the ``jwt`` extra; imported only when used).

May import ``restauth.identity``, ``restauth.tokens.jwt`` (the JWT helpers) and the
standard library; never HTTP framing or the user stores.
"""
