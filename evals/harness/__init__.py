"""The evaluation harness: case format, suite builders' contract, runner,
metrics, summaries and the leaderboard (see docs/EVALS.md)."""
