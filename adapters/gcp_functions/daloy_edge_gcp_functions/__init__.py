"""Google Cloud Functions adapter for daloy_edge (functions-framework HTTP targets).

``main.py`` of a function::

    from daloy_edge_gcp_functions import handler
    from myapp import app

    gcf_handler = handler(app)   # functions-framework --target=gcf_handler
"""

from daloy_edge_gcp_functions._adapter import GCFHandler, from_response, handler, to_request

__all__ = ["GCFHandler", "from_response", "handler", "to_request"]
