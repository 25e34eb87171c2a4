# The one-process local stack, included by the root Makefile.

.PHONY: dev

dev: install ## Install, build and run relay + worker + dashboard on http://localhost:8080 (PORT, REDIS_URL)
	npm run build
	$(NODE) dev/bin/jobchannel-dev.js
