"""Pure HTTP: what restauth reads from a request and writes into a response.

Credentials (``Authorization`` parsing), cookies, forwarded headers (client address,
scheme, origin), problem responses and challenges, the ``Auth-Token`` headers. Nothing
here knows WSGI, ASGI, webob or any store: it may import the standard library, other
``restauth.wire`` modules, ``restauth._text``, ``restauth.errors``, and
``restauth.tokens.base`` for the grant's type.
"""
