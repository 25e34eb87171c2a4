# Make target for the relay benchmark; included by the root Makefile.

bench: install build ## Benchmark the relay against a bare ws + ioredis baseline (bounded: 25 min; writes bench/RESULTS.md)
	npm run bench -w bench
