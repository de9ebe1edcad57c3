/** How the stored chunks a read misses become range requests. */

/** A byte range of a blob, stored contiguously. */
export interface Span {
  offset: number;
  size: number;
}

/**
 * Groups spans into runs fetched by one request each: a run is a sequence of spans where each
 * starts where the previous ends, at most `maxBytes` long (a single larger span is a run of its
 * own). Spans are taken in offset order; overlapping or separated spans start new runs.
 */
export function coalesce<T extends Span>(spans: readonly T[], maxBytes: number): T[][] {
  const sorted = [...spans].sort((a, b) => a.offset - b.offset);
  const runs: T[][] = [];
  let run: T[] = [];
  let start = 0;
  let end = 0;
  for (const span of sorted) {
    if (run.length > 0 && span.offset === end && span.offset + span.size - start <= maxBytes) {
      run.push(span);
    } else {
      if (run.length > 0) runs.push(run);
      run = [span];
      start = span.offset;
    }
    end = span.offset + span.size;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

/** Runs `task` over `items`, at most `limit` at a time; rejects with the first failure after all settle. */
export async function eachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await task(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}
