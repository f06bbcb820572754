"""CardioAgent orchestrator: intake, LangGraph graph, grounded report."""

__version__ = "0.1.0"
