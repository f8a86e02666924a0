/** Pulse browser tracker. Every function is safe to call at any time: before
 * `init` resolves calls are queued, and nothing ever throws into the page. */

export interface PulseError {
  /** Server error code, or "rejected" for one event refused inside a 200 answer. */
  code: string;
  message?: string;
  /** HTTP status (200 for per-event rejections). */
  status: number;
  /** Number of events dropped with this error (whole-request errors). */
  events?: number;
  /** The refused event (per-event rejections). */
  eventId?: string;
  index?: number;
}

export interface WireEvent {
  event_id: string;
  type: string;
  timestamp: string;
  user_id?: string;
  anonymous_id: string;
  session_id: string;
  entity_type?: string;
  entity_id?: string;
  duration_ms?: number;
  environment?: string;
  status?: 'success' | 'failed' | 'in_progress';
  conversation_id?: string;
  sequence?: number;
  parent_id?: string;
  properties?: Record<string, unknown>;
  context: Record<string, unknown>;
  [field: string]: unknown;
}

export interface InitOptions {
  /** Base URL of the Pulse API, e.g. "https://pulse.example.com" (events go to `/v1/events`). */
  endpoint: string;
  /** Project write key ("wk_…"). */
  writeKey: string;
  /** A batch closes at this many events. Default 20. */
  batchSize?: number;
  /** A batch closes this long after its first event. Default 3000. */
  flushIntervalMs?: number;
  /** Unsent-queue bound in events; the oldest are dropped beyond it. Default 10000. */
  maxQueueEvents?: number;
  /** Unsent-queue bound in stored bytes. Default 4000000. */
  maxQueueBytes?: number;
  /** Page view on load and on every history-API route change. Default true. */
  trackPageViews?: boolean;
  /** Added to every event as `environment`. */
  environment?: string;
  /** Start opted out until `optIn()` (remembered either way). Default false. */
  optOutByDefault?: boolean;
  /** Track nothing when the browser sends Do Not Track. Default false. */
  respectDoNotTrack?: boolean;
  /** Track nothing from bots and automated browsers (navigator.webdriver). Default true. */
  skipBots?: boolean;
  /** Sees every event before it is queued; return it (changed or not), or null to drop it. */
  beforeSend?: (event: WireEvent) => WireEvent | null | undefined | false;
  /** Called when the server refuses events (4xx other than 408/429, or a `rejected` entry). */
  onError?: (error: PulseError) => void;
  /** Logs retries to the console. */
  debug?: boolean;
  /** Where to load the wasm from. Default: `pulse_bg.wasm` next to `pulse.js`. */
  wasmUrl?: string | URL;
}

export interface TrackOptions {
  entityType?: string;
  entityId?: string;
  properties?: Record<string, unknown>;
  status?: 'success' | 'failed' | 'in_progress';
  conversationId?: string;
  sequence?: number;
  parentId?: string;
  durationMs?: number;
  /** Close the batch and send now. */
  immediate?: boolean;
}

export interface BatchEvent extends TrackOptions {
  type: string;
}

export interface Timer {
  /** Records the event with `duration_ms`; properties are merged. First call only. */
  complete(properties?: Record<string, unknown>): boolean;
  /** Forgets the timer. */
  cancel(): void;
}

export interface Stats {
  state: 'idle' | 'loading' | 'ready' | 'failed';
  queued: number;
  queuedBytes?: number;
  dropped?: number;
  inFlight?: boolean;
  retryScheduled?: boolean;
  optedOut?: boolean;
  disabled?: string;
  anonymousId?: string;
  userId?: string;
  sessionId?: string;
  wasmMemoryBytes?: number;
}

/** Loads the module and starts tracking; resolves false (never rejects) if it cannot. */
export function init(options: InitOptions): Promise<boolean>;
/** Records an event; false if refused (opted out, over 32 KiB, not loaded). */
export function track(type: string, options?: TrackOptions): boolean;
/** Records a page view of the current URL. */
export function page(name?: string | Record<string, unknown>, properties?: Record<string, unknown>): boolean;
/** Sets the user id (remembered) and records `identify` with the traits and the anonymous id. */
export function identify(userId: string, traits?: Record<string, unknown>): boolean;
/** Starts timing an action. */
export function timed(type: string, options?: TrackOptions): Timer;
/** Records several events; returns how many were accepted. */
export function trackBatch(events: BatchEvent[]): number;
/** Sends now; resolves true once the queue is empty, false after `timeoutMs` (default 5000). */
export function flush(timeoutMs?: number): Promise<boolean>;
/** Events not yet delivered. */
export function queueSize(): number;
/** Counters and ids, for debugging. */
export function stats(): Stats;
/** Stops tracking on this browser (remembered) and discards unsent events. */
export function optOut(): void;
/** Resumes tracking on this browser (remembered). */
export function optIn(): void;
/** New anonymous id and session, no user id (e.g. on logout). */
export function reset(): void;

declare const pulse: {
  init: typeof init; track: typeof track; page: typeof page; identify: typeof identify;
  timed: typeof timed; trackBatch: typeof trackBatch; flush: typeof flush; queueSize: typeof queueSize;
  stats: typeof stats; optOut: typeof optOut; optIn: typeof optIn; reset: typeof reset;
};
export default pulse;
