"""Example deployments and the reference app every runtime serves (``secure_app``)."""
