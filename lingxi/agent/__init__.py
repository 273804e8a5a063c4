"""The search agent: plan → search → read → decide → (search again) → answer, with verified citations."""

from lingxi.agent.grounding import ground_quote
from lingxi.agent.loop import AgentConfig, SearchAgent

__all__ = ["AgentConfig", "SearchAgent", "ground_quote"]
