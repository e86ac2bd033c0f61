"""Who may reach what: public path patterns and ACL rules.

Pure decisions on a method, a path and an identity; no HTTP framing, no stores. May
import ``restauth.identity`` and the standard library.
"""

from restauth.access.acl import ACL, ACLRule
from restauth.access.paths import PublicPaths

__all__ = ["ACL", "ACLRule", "PublicPaths"]
