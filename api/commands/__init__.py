"""Commands to agents: create, list, cancel, stream output; containers and agent state."""
