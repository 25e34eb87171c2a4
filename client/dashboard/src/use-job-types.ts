// The job types to offer: asked from the worker once, with the built-in list until it answers.
import { useEffect, useState } from "react";
import { BUILT_IN_JOB_TYPES, fetchJobTypes, type JobTypeInfo } from "./api.ts";

/** What {@link useJobTypes} returns. */
export interface JobTypesState {
  types: readonly JobTypeInfo[];
  /** Why the worker could not be asked (the built-in list is shown meanwhile). */
  error: string | undefined;
}

export function useJobTypes(): JobTypesState {
  const [state, setState] = useState<JobTypesState>({
    types: BUILT_IN_JOB_TYPES,
    error: undefined,
  });
  useEffect(() => {
    const abort = new AbortController();
    fetchJobTypes(abort.signal).then(
      (types) =>
        setState({ types: types.length > 0 ? types : BUILT_IN_JOB_TYPES, error: undefined }),
      (e: unknown) => {
        if (!abort.signal.aborted)
          setState({ types: BUILT_IN_JOB_TYPES, error: (e as Error).message });
      },
    );
    return () => abort.abort();
  }, []);
  return state;
}
