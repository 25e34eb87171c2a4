# Make target for the side-by-side benchmark; included by the root Makefile.

bench: install build ## Benchmark the relay against the bare ws loop, Socket.IO and Centrifugo (builds Centrifugo once, cached; about 20 min; writes bench/RESULTS.md and bench/plots/)
	bash bench/scripts/build-centrifugo.sh
	npm run bench -w bench
