"""The TOML configuration file: ``loader`` (file → settings → middleware), ``schema``
(typed table access and secret checks), ``jwt`` (the JWT parts, needing the ``jwt``
extra only when used).

The only package that may import every other one: it builds the stores and the middleware.
"""

from restauth.config.loader import Config, from_config, load_config
from restauth.config.schema import ConfigError

__all__ = ["Config", "ConfigError", "from_config", "load_config"]
