"""Experiments: the paper's target-task learning protocol across methods (harness), its results (CSV and
statistics) and plots. Throughput benchmarks are apart, in simpl_core.bench."""
