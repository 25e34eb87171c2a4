# jobchannel developer commands. `make help` lists them.
# Everything runs on the Node 24 the workspace brings (node_modules/.bin/node), not the system's.

SHELL := bash
.DEFAULT_GOAL := help
NODE := node_modules/.bin/node
NPM_STAMP := node_modules/.jobchannel-install-stamp
PACKAGE_JSONS := package.json $(wildcard */package.json)

.PHONY: help install build lint format test test-unit system-deps bench clean

help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | sort -u | \
	  awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(NPM_STAMP): package-lock.json $(PACKAGE_JSONS)
	npm ci
	@touch $@

install: $(NPM_STAMP) ## Install the workspace (npm ci) when package files changed

build: install ## Compile every package (tsc -b) and the dashboard
	npm run build

lint: install ## ESLint (with the import-cycle check), Prettier, and the errors doc check
	npx tsc -b
	npm run lint

format: install ## Rewrite files with Prettier
	npm run format

system-deps: ## Install what the suites run for real when missing (Redis, Prometheus, Chromium, the node and image tools; root on Debian)
	bash scripts/system-deps.sh

PHASE := @bash scripts/phase.sh
SUBMAKE := $(MAKE) --no-print-directory

test: ## Install what the tests need (packages, Go builds, images) and run every suite, timing each phase
	$(PHASE) system-deps $(SUBMAKE) system-deps
	$(PHASE) install $(SUBMAKE) install
	$(PHASE) tools $(SUBMAKE) tools
	$(PHASE) images $(SUBMAKE) images
	$(PHASE) build $(SUBMAKE) build
	$(PHASE) lint-dockerfiles $(SUBMAKE) lint-dockerfiles
	$(PHASE) lint-shell $(SUBMAKE) lint-shell
	$(PHASE) audit $(SUBMAKE) audit
	$(PHASE) tests npm test

test-unit: install build ## Run the unit tests only (no servers)
	npm run test:unit

clean: ## Remove build output and installed modules (keeps the control-plane cache)
	rm -rf node_modules */node_modules */dist */*.tsbuildinfo client/dashboard/dist test-results

-include e2e/e2e.mk
-include dev/dev.mk
-include bench/bench.mk
-include images/images.mk
-include charts/charts.mk
-include scripts/lint.mk
-include scripts/reliability.mk
-include scripts/security.mk
