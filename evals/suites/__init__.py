"""Suite builders: each module has DESCRIPTION and build(ctx) -> BuildResult
(registry in evals/harness/suite.py)."""
