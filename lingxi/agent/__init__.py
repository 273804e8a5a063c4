"""The search agent: plan → search → read → (search again) → answer → cite, as a generator of typed steps."""

from lingxi.agent.cite import ground_quote
from lingxi.agent.loop import SearchAgent
from lingxi.agent.state import DEFAULT_REPAIRS, REPAIRS, AgentConfig, pick_repairs

__all__ = ["DEFAULT_REPAIRS", "REPAIRS", "AgentConfig", "SearchAgent", "ground_quote", "pick_repairs"]
