"""The reference app as a Cloudflare Python Worker (configuration from Worker vars and secrets)."""

from daloy_edge_cloudflare import entrypoint

from examples.secure_app import create_app

Default = entrypoint(create_app)
