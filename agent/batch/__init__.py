"""Batch reports at study scale.

One case at a time is `agent.runner.analyze`; this package runs many of them:
validate the whole input first (`manifest`), decide what is already done
(`markers`, `hashing`), run the rest on local worker processes (`local`) or
Ray (`ray_engine`) through one per-case function (`case_runner`), and write
the per-batch tables and summary (`cohort`, `summary`). `run` ties them
together and `cli` is the `cardioagent batch` subcommand.
"""
