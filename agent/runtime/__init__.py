"""The agent runtime: sampling, delivery without loss, and the stream to the collector."""
