"""Sub-commands of the ``daloy-edge`` command line."""
