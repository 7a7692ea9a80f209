/**
 * Two express-session stores written in the styles the bridge must hear besides MemoryStore's
 * (callbacks on a later turn): Promises only, and callbacks called synchronously.
 * @module
 */

/**
 * A store written in the Promise style (no callbacks): values kept as JSON text, `all` gives
 * an array of sessions without their ids, as connect-mongo's does.
 */
export class PromiseStore {
  readonly data = new Map<string, string>();
  async get(sid: string): Promise<unknown> {
    const text = this.data.get(sid);
    return text === undefined ? null : JSON.parse(text);
  }
  async set(sid: string, sess: unknown): Promise<void> {
    this.data.set(sid, JSON.stringify(sess));
  }
  async destroy(sid: string): Promise<void> {
    this.data.delete(sid);
  }
  async all(): Promise<unknown[]> {
    return [...this.data.values()].map((t) => JSON.parse(t));
  }
}

/** A store in the oldest style: callbacks called synchronously, values kept as objects. */
export class SyncCallbackStore {
  readonly data = new Map<string, unknown>();
  get(sid: string, cb: (err: unknown, sess?: unknown) => void): void {
    cb(null, this.data.get(sid));
  }
  set(sid: string, sess: unknown, cb?: (err?: unknown) => void): void {
    this.data.set(sid, sess);
    cb?.();
  }
  destroy(sid: string, cb?: (err?: unknown) => void): void {
    this.data.delete(sid);
    cb?.();
  }
}
