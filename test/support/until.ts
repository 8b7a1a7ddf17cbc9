// Waits for a condition that another process or replica makes true (a pub/sub message, a lease
// expiry): polls `probe` every 50 ms until it answers something, or fails after `timeoutMs`.

export async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
