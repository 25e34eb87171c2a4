# Make targets for the pinned kubectl/helm and the local one-node Kubernetes cluster; included by the root Makefile.
# The TypeScript runs on the workspace's Node 24 ($(NODE) from the root Makefile).

E2E_NODE = $(or $(NODE),node_modules/.bin/node)
CLUSTER_CLI = $(E2E_NODE) e2e/src/cluster-cli.ts

.PHONY: tools cluster-up cluster-down cluster-status cluster-load-images cluster-deploy test-e2e

tools: ## Build (or reuse from the cache) bin/controlplane, kubectl, helm, containerd, ctr, coredns and weed (SeaweedFS, the S3 server of the upload tests)
	bash e2e/scripts/build-tools.sh

cluster-up: install tools images ## Start the one-node cluster (needs root); kubeconfig in .cluster/kubeconfig
	$(CLUSTER_CLI) up

cluster-down: ## Stop the cluster and remove its namespaces, mounts and cgroups
	$(CLUSTER_CLI) down

cluster-status: ## Say whether the local cluster runs, where, and where its logs are
	$(CLUSTER_CLI) status

cluster-load-images: ## Import every .images/*.oci.tar into the running node's containerd
	$(CLUSTER_CLI) load-images

cluster-deploy: cluster-load-images ## Install the Helm chart on the running cluster with charts/jobchannel/values-local.yaml
	bin/helm --kubeconfig=.cluster/kubeconfig upgrade --install jobchannel charts/jobchannel \
	  -n jobchannel --create-namespace -f charts/jobchannel/values-local.yaml --wait --timeout=5m

test-e2e: install build tools images ## Run the e2e suites: the control plane, and jobchannel in pods on the local node
	$(E2E_NODE) --test --test-concurrency=1 e2e/test/*.integration.test.ts

.PHONY: e2e-kind
e2e-kind: install build ## The end-to-end suite on a kind cluster (needs kind, Docker, kubectl, helm 4); not part of make test
	bash e2e/scripts/kind.sh
