# Make targets for the reliability report and the long soak; included by the root Makefile.
# The suites write their figures to test-results/reliability/*.jsonl (testkit's recordFaults and
# recordHostile); scripts/reliability-report.ts turns them into docs/reliability.md's tables.

.PHONY: reliability soak

RELIABILITY_NODE = $(or $(NODE),node_modules/.bin/node)
RELIABILITY_DIR := test-results/reliability

# The suites that inject faults or throw hostile input, and the load suites. The hostile-input
# and isolation suites are picked up by name.
RELIABILITY_FAULT_SUITES := \
  relay/test/recovery.integration.test.ts \
  relay/test/cluster-failover.integration.test.ts \
  worker/test/crash.integration.test.ts \
  worker/test/durability.integration.test.ts \
  operator/test/leader-election.integration.test.ts \
  operator/test/leader-hung-renewal.integration.test.ts \
  e2e/test/release.integration.test.ts
RELIABILITY_HOSTILE_SUITES = $(sort $(wildcard \
  relay/test/*hostile*.test.ts relay/test/*isolation*.test.ts \
  worker/test/*hostile*.test.ts worker/test/*isolation*.test.ts \
  operator/test/*hostile*.test.ts operator/test/*isolation*.test.ts))
RELIABILITY_LOAD_SUITES := \
  relay/test/connection-storm.integration.test.ts \
  relay/test/soak.integration.test.ts

# The soak inside `make reliability`, seconds; `make soak` runs the long one.
RELIABILITY_SOAK_SECONDS ?= 600
SOAK_SECONDS ?= 1800

reliability: install build tools images ## Run the fault, hostile-input and load suites at full profile (10,000-client storm, 10-minute soak), then rewrite the Faults and Hostile-input tables of docs/reliability.md
	rm -rf $(RELIABILITY_DIR)
	status=0; \
	JOBCHANNEL_RELIABILITY_PROFILE=full JOBCHANNEL_SOAK_SECONDS=$(RELIABILITY_SOAK_SECONDS) \
	  $(RELIABILITY_NODE) --test --test-reporter=spec --test-timeout=3600000 --test-concurrency=1 \
	  --disable-warning=ExperimentalWarning \
	  $(RELIABILITY_FAULT_SUITES) $(RELIABILITY_HOSTILE_SUITES) $(RELIABILITY_LOAD_SUITES) || status=$$?; \
	JOBCHANNEL_RELIABILITY_PROFILE=full $(RELIABILITY_NODE) scripts/reliability-report.ts || status=1; \
	exit $$status

soak: install build ## The 30-minute soak: steady publishing with client churn against a relay process and redis-server; fails if RSS, event-loop delay or Redis memory grow
	JOBCHANNEL_SOAK_SECONDS=$(SOAK_SECONDS) $(RELIABILITY_NODE) --test --test-reporter=spec \
	  --test-timeout=$$(( ($(SOAK_SECONDS) + 600) * 1000 )) --disable-warning=ExperimentalWarning \
	  relay/test/soak.integration.test.ts
