# Make target for the side-by-side benchmark; included by the root Makefile.

bench: install build ## Benchmark the relay against the bare ws loop, Socket.IO and Centrifugo (10 min on a loaded 2-core machine; scenarios not begun within 16 min are skipped and listed, so at most about 19; the first run also builds Centrifugo, about 10 min, cached after; writes bench/RESULTS.md and bench/plots/)
	bash bench/scripts/build-centrifugo.sh
	npm run bench -w bench
