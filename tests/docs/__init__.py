"""Every code block in README.md and docs/ is executed or verified (see test_code_blocks),
and every docstring example runs (see test_docstring_examples)."""
