// metav1.Condition bookkeeping: lastTransitionTime moves only when a condition's status changes.
import type { Condition, ConditionStatus } from "./jobchannel.ts";

/** A condition as a reconcile decides it, before timestamps. */
export interface ConditionInput {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly reason: string;
  readonly message: string;
}

/**
 * The conditions after setting `next` on `previous`: an unchanged status keeps its
 * lastTransitionTime, a changed or new one gets `now`. Conditions not named in `next` are dropped,
 * so the list always holds exactly the types the operator owns, in its order.
 */
export function mergeConditions(
  previous: readonly Condition[] | undefined,
  next: readonly ConditionInput[],
  observedGeneration: number | undefined,
  now: string,
): Condition[] {
  return next.map((input) => {
    const before = previous?.find((c) => c.type === input.type);
    const since = before && before.status === input.status ? before.lastTransitionTime : now;
    return {
      type: input.type,
      status: input.status,
      ...(observedGeneration !== undefined ? { observedGeneration } : {}),
      lastTransitionTime: since,
      reason: input.reason,
      message: input.message,
    };
  });
}

/** The conditions whose status or reason differs between `before` and `after`: what deserves an Event. */
export function conditionTransitions(
  before: readonly Condition[] | undefined,
  after: readonly Condition[],
): Condition[] {
  return after.filter((c) => {
    const old = before?.find((b) => b.type === c.type);
    return !old || old.status !== c.status || old.reason !== c.reason;
  });
}

/** The condition of the given type, if present. */
export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
