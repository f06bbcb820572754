"""Moved to `agent.weights` (shared by `analyze`, `ui` and `batch`); kept so
existing imports of `agent.batch.weights` keep working."""

from agent.weights import *  # noqa: F401,F403
from agent.weights import _HASH_CACHE, CHUNK, PREFIX, WEIGHT_OPTION, _run_with_defaults  # noqa: F401
from agent.weights import __all__  # noqa: F401
