"""The one-line agent install: the script and the agent's wheel, served to VPSes."""
