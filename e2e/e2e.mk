# Make targets for the pinned kubectl/helm and the local Kubernetes control plane; included by the root Makefile.
# The TypeScript runs on the workspace's Node 24 ($(NODE) from the root Makefile).

E2E_NODE = $(or $(NODE),node_modules/.bin/node)

.PHONY: tools cluster-up cluster-down cluster-status test-e2e

tools: ## Build (or reuse from the cache) bin/controlplane, bin/kubectl and bin/helm
	bash e2e/scripts/build-tools.sh

cluster-up: install tools ## Start etcd, kube-apiserver and kube-controller-manager; kubeconfig in .cluster/kubeconfig
	$(E2E_NODE) e2e/src/cluster-cli.ts up

cluster-down: ## Stop the local control plane started by cluster-up
	$(E2E_NODE) e2e/src/cluster-cli.ts down

cluster-status: ## Say whether the local control plane runs, where, and where its logs are
	$(E2E_NODE) e2e/src/cluster-cli.ts status

test-e2e: install build tools ## Run the control-plane integration tests against a fresh local control plane
	$(E2E_NODE) --test e2e/test/*.integration.test.ts
