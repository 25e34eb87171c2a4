# Make targets for the Helm chart; included by the root Makefile.
# The TypeScript runs on the workspace's Node 24 ($(NODE) from the root Makefile).

CHARTS_NODE = $(or $(NODE),node_modules/.bin/node)

.PHONY: chart-docs

chart-docs: ## Regenerate the values table of charts/jobchannel/README.md from values.yaml's "# --" comments
	$(CHARTS_NODE) e2e/src/chart-values-doc.ts
