# Make targets for the pinned kubectl/helm and the local one-node Kubernetes cluster; included by the root Makefile.
# The TypeScript runs on the workspace's Node 24 ($(NODE) from the root Makefile).

E2E_NODE = $(or $(NODE),node_modules/.bin/node)
CLUSTER_CLI = $(E2E_NODE) e2e/src/cluster-cli.ts
KUBECTL_LOCAL = bin/kubectl --kubeconfig=.cluster/kubeconfig

.PHONY: tools cluster-up cluster-down cluster-status cluster-load-images cluster-deploy test-e2e

tools: ## Build (or reuse from the cache) bin/controlplane, kubectl, helm, containerd, ctr and coredns
	bash e2e/scripts/build-tools.sh

cluster-up: install tools images ## Start the one-node cluster (needs root); kubeconfig in .cluster/kubeconfig
	$(CLUSTER_CLI) up

cluster-down: ## Stop the cluster and remove its namespaces, mounts and cgroups
	$(CLUSTER_CLI) down

cluster-status: ## Say whether the local cluster runs, where, and where its logs are
	$(CLUSTER_CLI) status

cluster-load-images: ## Import every .images/*.oci.tar into the running node's containerd
	$(CLUSTER_CLI) load-images

cluster-deploy: cluster-load-images ## Deploy the CRD, operator RBAC and e2e/manifests/jobchannel.yaml to the running cluster
	$(KUBECTL_LOCAL) apply --server-side -f crds/jobchannels.jobchannel.io.yaml
	$(KUBECTL_LOCAL) wait --for=condition=Established crd/jobchannels.jobchannel.io --timeout=60s
	$(KUBECTL_LOCAL) apply --server-side -f e2e/manifests/jobchannel.yaml
	$(KUBECTL_LOCAL) apply --server-side -f operator/rbac.yaml
	$(KUBECTL_LOCAL) -n jobchannel rollout status deployment/redis deployment/jobchannel-operator deployment/jobchannel-relay --timeout=300s

test-e2e: install build tools images ## Run the e2e suites: the control plane, and jobchannel in pods on the local node
	$(E2E_NODE) --test --test-concurrency=1 e2e/test/*.integration.test.ts

.PHONY: e2e-kind
e2e-kind: install build ## The end-to-end suite on a kind cluster (needs kind, Docker, kubectl, helm 4); not part of make test
	bash e2e/scripts/kind.sh
