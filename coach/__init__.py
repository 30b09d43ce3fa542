"""Live AI coaching: prompts, LLM providers, Opik tracing, offline coach.

Filled in by issue [4 of 4]; nothing here yet.
"""
