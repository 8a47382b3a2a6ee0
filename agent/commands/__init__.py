"""Commands the collector asks the agent to run, and their streamed responses."""
