"""Test fixtures: tiny random-weight checkpoints and a stand-in
OpenAI-compatible server. Nothing at run time imports this package."""
