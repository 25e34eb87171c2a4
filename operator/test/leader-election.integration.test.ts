// Two operator processes against a real control plane: one reconciles, the other takes over when it goes.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { recordFaults, waitFor } from "@jobchannel/testkit";
import {
  OPERATOR_NAMESPACE,
  startCluster,
  startOperator,
  type TestCluster,
  type TestOperator,
} from "./cluster.ts";

const LEASE_SECONDS = 4;
const ELECTION_ARGS = [
  "--lease-duration-seconds",
  String(LEASE_SECONDS),
  "--renew-deadline-seconds",
  "3",
  "--retry-period-seconds",
  "1",
];

let cluster: TestCluster;
const operators: TestOperator[] = [];

function jobChannel(name: string): string {
  return JSON.stringify({
    apiVersion: "jobchannel.io/v1alpha1",
    kind: "JobChannel",
    metadata: { name, namespace: "apps" },
    spec: { worker: { jobType: name, replicas: 1 } },
  });
}

/** Records a leadership fault: the operator publishes no job updates, so only the recovery counts. */
function recordLeadershipFault(scenario: string, recoveryMs: number): void {
  recordFaults({
    scenario: `operator: ${scenario}`,
    load: "2 operator processes on a real API server, JobChannels reconciled",
    faultsInjected: 1,
    updatesPublished: 0,
    finalUpdatesDelivered: 0,
    lost: 0,
    duplicatesShown: 0,
    recoverySeconds: recoveryMs / 1000,
  });
}

async function holder(): Promise<string> {
  const lease = await cluster.getJson(["lease", "jobchannel-operator", "-n", OPERATOR_NAMESPACE]);
  return lease?.spec?.holderIdentity ?? "";
}

async function reconciles(operator: TestOperator): Promise<number> {
  let total = 0;
  for (const result of ["success", "error", "requeue", "requeue_after"]) {
    total += await operator.metric("controller_runtime_reconcile_total", { result });
  }
  return total;
}

async function leaderOf(
  candidates: TestOperator[],
): Promise<{ leader: TestOperator; standby: TestOperator[] }> {
  const id = await waitFor(async () => (await holder()) || undefined, {
    timeoutMs: 30_000,
    what: "a lease holder",
  });
  const leader = candidates.find((o) => o.identity === id);
  assert.ok(leader, `the holder ${id} is one of the operators`);
  return { leader, standby: candidates.filter((o) => o !== leader) };
}

describe("leader election between two operator processes", { timeout: 300_000 }, () => {
  before(async () => {
    cluster = await startCluster(["apps"]);
    operators.push(await startOperator(cluster, { args: ELECTION_ARGS }));
    operators.push(await startOperator(cluster, { args: ELECTION_ARGS }));
  });

  after(async () => {
    await Promise.all(operators.map((o) => o.stop()));
    await cluster?.stop();
  });

  it("lets only the leader reconcile", async () => {
    const { leader, standby } = await leaderOf(operators);
    await cluster.kubectl(["apply", "-f", "-"], jobChannel("file-upload"));
    await waitFor(
      async () =>
        (await cluster.getJson(["deployment", "file-upload-worker", "-n", "apps"])) !== undefined,
      {
        timeoutMs: 30_000,
        what: "the leader to create the Deployment",
      },
    );
    assert.ok((await reconciles(leader)) > 0);
    assert.equal(await leader.metric("leader_election_master_status"), 1);
    for (const s of standby) {
      assert.equal(await reconciles(s), 0, "a standby never reconciles");
      assert.equal(await s.metric("leader_election_master_status"), 0);
      assert.equal(await s.ready(), true, "a standby keeps its caches synced");
    }
  });

  it("exports the per-JobChannel gauges from the leader only, and exits when the Lease is lost", async () => {
    const { leader, standby } = await leaderOf(operators);
    const desired = (o: TestOperator) =>
      o.sample("jobchannel_operator_workers_desired", {
        namespace: "apps",
        jobchannel: "file-upload",
      });
    await waitFor(async () => (await desired(leader)) === 1, {
      timeoutMs: 30_000,
      what: "the leader's gauge",
    });
    for (const s of standby) assert.equal(await desired(s), undefined, "a standby exports none");

    // Someone else holds the Lease now: the leader cannot renew, steps down after the renew
    // deadline and exits, as controller-runtime does, so it writes nothing more.
    const exited = new Promise<number | null>((resolve) =>
      leader.process.child.once("exit", (code) => resolve(code)),
    );
    const micro = new Date().toISOString().replace(/Z$/, "000Z");
    await cluster.kubectl([
      "patch",
      "lease",
      "jobchannel-operator",
      "-n",
      OPERATOR_NAMESPACE,
      "--type=merge",
      "-p",
      JSON.stringify({ spec: { holderIdentity: "someone-else", renewTime: micro } }),
    ]);
    const code = await Promise.race([
      exited,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error("the old leader still runs")), LEASE_SECONDS * 1000),
      ),
    ]);
    assert.equal(code, 1, "exits with a non-zero status");
    assert.match(leader.process.logTail(), /"code":"leadership_lost"/);
    operators.splice(operators.indexOf(leader), 1);

    // Once that Lease expires unrenewed, the standby leads and exports the gauge.
    const next = standby[0]!;
    await waitFor(async () => (await holder()) === next.identity, {
      timeoutMs: (LEASE_SECONDS + 10) * 1000,
      what: "the standby to lead",
    });
    await waitFor(async () => (await desired(next)) === 1, {
      timeoutMs: 30_000,
      what: "the new leader's gauge",
    });
    recordLeadershipFault(
      "Lease taken by another holder, the leader exits, the standby leads",
      Date.now() - Date.parse(micro),
    );
    operators.push(await startOperator(cluster, { args: ELECTION_ARGS }));
  });

  it("hands over within the lease duration when the leader is killed", async () => {
    const { leader, standby } = await leaderOf(operators);
    const killedAt = Date.now();
    leader.process.child.kill("SIGKILL");
    process.kill(-leader.pid, "SIGKILL");
    const next = standby[0]!;
    await waitFor(async () => (await holder()) === next.identity, {
      timeoutMs: (LEASE_SECONDS + 5) * 1000,
      intervalMs: 100,
      what: "the standby to take the Lease",
    });
    const handover = Date.now() - killedAt;
    // The standby can take an unrenewed Lease once the lease duration passed since it last saw it change.
    assert.ok(handover <= (LEASE_SECONDS + 2) * 1000, `handover took ${handover} ms`);
    await cluster.kubectl(["apply", "-f", "-"], jobChannel("pdf-extraction"));
    await waitFor(
      async () =>
        (await cluster.getJson(["deployment", "pdf-extraction-worker", "-n", "apps"])) !==
        undefined,
      {
        timeoutMs: 30_000,
        what: "the new leader to reconcile",
      },
    );
    assert.equal(await next.metric("leader_election_master_status"), 1);
    recordLeadershipFault(
      "leader SIGKILLed, the standby takes the Lease and reconciles",
      Date.now() - killedAt,
    );
    operators.splice(operators.indexOf(leader), 1);
  });

  it("releases the Lease on SIGTERM so a standby takes over at once", async () => {
    operators.push(await startOperator(cluster, { args: ELECTION_ARGS }));
    const { leader, standby } = await leaderOf(operators);
    const stoppedAt = Date.now();
    await leader.stop();
    assert.equal(leader.process.child.exitCode, 0);
    // Released on the way out: nobody holds it, for 1 s, or the standby has it already. A Lease
    // left to expire would still name the stopped leader for the whole lease duration.
    const lease = await cluster.getJson(["lease", "jobchannel-operator", "-n", OPERATOR_NAMESPACE]);
    const releasedTo = lease?.spec?.holderIdentity ?? "";
    assert.notEqual(
      releasedTo,
      leader.identity,
      `the stopped leader still holds the Lease:\n${leader.process.logTail()}`,
    );
    if (releasedTo === "") assert.equal(lease.spec.leaseDurationSeconds, 1);
    await waitFor(async () => (await holder()) === standby[0]!.identity, {
      timeoutMs: 10_000,
      intervalMs: 100,
      what: "the standby to take the released Lease",
    });
    const takenAt = Date.now();
    recordLeadershipFault(
      "leader stopped with SIGTERM, the released Lease taken",
      takenAt - stoppedAt,
    );
    operators.splice(operators.indexOf(leader), 1);
  });
});
