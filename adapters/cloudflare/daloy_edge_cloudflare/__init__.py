"""Cloudflare Python Workers adapter for daloy_edge."""

__all__: list[str] = []
