"""The sample shop, API emulators and synthetic quality data: tooling for the demo, tests and benchmarks, never shipped."""
