/** Small helpers for the Root's tests: simulated errors, collecting a listing, catching a refusal. */
export function errno(code: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: simulated`);
  err.code = code;
  return err;
}

/** Collects an async iterable into an array. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** The error a promise rejects with, or a call throws (fails the test if neither happens). */
export async function rejection(work: Promise<unknown> | (() => unknown)): Promise<Error & { code: string }> {
  try {
    await (typeof work === 'function' ? work() : work);
  } catch (err) {
    return err as Error & { code: string };
  }
  throw new Error('expected a rejection');
}
