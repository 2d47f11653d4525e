"""Google Cloud Functions adapter for daloy_edge."""

__all__: list[str] = []
