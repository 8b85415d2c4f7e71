// What the browser tests share: a free loopback port and waiting for a server to answer
// /health (not a test file itself: node --test runs only *.test.mjs here).

import net from 'node:net';

/** A port nothing listens on now, on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Waits until `url`/health answers, failing early when `proc` exits. */
export async function waitHealthy(url, proc, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`ferroflow exited with ${proc.exitCode}`);
    try {
      if ((await fetch(url + '/health', { signal: AbortSignal.timeout(1000) })).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`ferroflow did not become healthy within ${ms} ms`);
}
