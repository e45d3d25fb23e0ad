"""Speed and quality benchmarks for wordgen, each against a plain-PyTorch reference run beside it."""
