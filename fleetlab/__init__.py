"""Run Fleetpost as real processes for tests, the chaos script and benchmarks."""
