"""推: engagement events, the NoteLLM-style note encoder, recommendation and interest exploration."""
