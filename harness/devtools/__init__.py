"""Developer tools: tiny random-weight models for tests, smoke configs and benchmarks.

Nothing here is imported by the harness at run time; heavy imports stay inside the builders.
"""
