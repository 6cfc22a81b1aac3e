"""Long-running reliability tools: crash campaigns and fuzz drivers (not shipped with payk)."""
