"""One module per gate (or per small family of gates); the registry lists them in order."""
