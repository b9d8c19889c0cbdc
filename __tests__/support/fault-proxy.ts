// A proxy in front of a real registry that, by a seeded random choice, answers a share of
// requests with a failure (500, 503, 429 with Retry-After, or a dropped connection) and
// delays another share (a slow answer). The same seed gives the same choices in the same
// order, so a failing run can be replayed with FAULT_SEED.
import { startProxy, type TestProxy } from './registry.js';
import { seededRandom } from './seeded-random.js';

export type FaultKind = '500' | '503' | '429' | 'dropped' | 'slow';

export interface FaultProxyOptions {
  seed: number;
  /** Share of requests answered with a failure, in [0, 1]; may be changed while running. */
  failureRate: number;
  /** Share of the other requests answered late. */
  slowRate?: number;
  slowMs?: number;
  /** Seconds a 429 asks to wait. */
  retryAfterSeconds?: number;
}

export interface FaultProxy {
  /** `127.0.0.1:PORT` */
  host: string;
  proxy: TestProxy;
  /** How many of each fault were served. */
  served: Record<FaultKind, number>;
  /** Requests that got a failure. */
  failures(): number;
  setFailureRate(rate: number): void;
  stop(): Promise<void>;
}

const FAILURES = ['500', '503', '429', 'dropped'] as const;

export async function startFaultProxy(
  target: string,
  options: FaultProxyOptions,
): Promise<FaultProxy> {
  const random = seededRandom(options.seed);
  let failureRate = options.failureRate;
  const served: Record<FaultKind, number> = { '500': 0, '503': 0, '429': 0, dropped: 0, slow: 0 };
  const proxy = await startProxy(target, async () => {
    if (random() < failureRate) {
      const kind = FAILURES[Math.floor(random() * FAILURES.length)] ?? '500';
      served[kind]++;
      if (kind === 'dropped') return 'destroy';
      if (kind === '429') {
        return {
          status: 429,
          headers: { 'retry-after': String(options.retryAfterSeconds ?? 1) },
          body: '{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}',
        };
      }
      // A load balancer's answer: no registry error body.
      return { status: Number(kind), body: kind === '503' ? 'Service Unavailable' : '' };
    }
    if (random() < (options.slowRate ?? 0)) {
      served.slow++;
      await new Promise((resolve) => setTimeout(resolve, options.slowMs ?? 1500));
    }
    return 'forward';
  });
  return {
    host: proxy.host,
    proxy,
    served,
    failures: () => served['500'] + served['503'] + served['429'] + served.dropped,
    setFailureRate: (rate) => {
      failureRate = rate;
    },
    stop: () => proxy.stop(),
  };
}
