"""The VPS page's history: range presets and URL state, figures for every metric
family the agent sends, and the section that shows them."""
