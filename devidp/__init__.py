"""A local OpenID Connect provider that behaves like Authentik or Authelia, for development only.

Run it with ``python -m devidp`` (see README.md). The site never imports this package.
"""
