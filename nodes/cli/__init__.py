"""Command-line tools: the demo (main job), the headless runner and the benchmark."""
