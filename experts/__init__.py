"""Expert tools, one sub-package per modality. They know nothing of the agent."""
