"""PasteDeploy glue: ``[filter:auth] use = egg:restauth`` in a Pyramid ``.ini`` pipeline.

The filter takes one setting, ``config``, the path of a restauth TOML file (usually
``%(here)s/restauth.toml``); everything else lives in that file, where it is checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from restauth.config.loader import ConfigError, from_config
from restauth.middleware import AuthMiddleware

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


def filter_app_factory(
    app: WSGIApplication, global_conf: Mapping[str, str], **settings: str
) -> AuthMiddleware:
    """The ``paste.filter_app_factory`` entry point named ``main``."""
    config = settings.pop("config", None) or global_conf.get("restauth_config")
    if settings:
        unknown = ", ".join(sorted(settings))
        raise ConfigError(f"[filter:restauth] takes only 'config'; put {unknown} in the TOML file")
    return from_config(app, config)
