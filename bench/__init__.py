"""payk's benchmarks: peers measured in the same run, ratios as the headline."""
