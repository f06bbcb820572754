"""Shared result types and the tool interface for all experts."""
