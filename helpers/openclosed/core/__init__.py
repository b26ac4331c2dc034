"""Layer 1, the bottom: settings, machine facts, secrets and redaction,
errors, and the sentiment label vocabulary. Imports nothing above it."""
