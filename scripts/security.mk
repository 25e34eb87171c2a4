# Supply-chain and mutation-testing targets; included by the root Makefile. docs/security.md says
# what `make audit` decides and why; docs/reliability.md holds what `make mutation` measured.

.PHONY: audit mutation

audit: install ## npm audit --omit=dev (no verdict when the registry has no audit endpoint), the production license check, the image-scan note
	$(NODE) scripts/npm-audit.ts
	$(NODE) scripts/license-check.ts
	@echo "image scan: not run: no scanner here has an offline vulnerability database (docs/security.md, 'Image scan')"

mutation: install ## StrykerJS on protocol/, state/ and the relay's hub, send queue and auth; rewrites the mutation region of docs/reliability.md (slow: not in make test)
	npx tsc -b
	$(NODE) scripts/mutation.ts
