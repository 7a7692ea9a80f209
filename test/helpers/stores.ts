/**
 * Store doubles for error paths: a slow store that records when each call finished, and
 * failing stores. They wrap a real MemStore; they never stand in for rqlite.
 * @module
 */
import { StoreUnavailableError } from "../../src/errors.ts";
import type { IterableStore, Store } from "../../src/store.ts";
import { MemStore } from "../../src/stores/memstore.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A MemStore whose every call takes `delay` ms and is logged with the time it completed. */
export class SlowStore implements IterableStore {
  readonly inner = new MemStore({ cleanupInterval: 0 });
  readonly log: { op: string; token: string; doneAt: number }[] = [];
  constructor(readonly delay: number) {}
  async find(token: string): Promise<Uint8Array | undefined> {
    await sleep(this.delay);
    this.log.push({ op: "find", token, doneAt: performance.now() });
    return this.inner.find(token);
  }
  async commit(token: string, data: Uint8Array, expiry: Date): Promise<void> {
    await sleep(this.delay);
    this.inner.commit(token, data, expiry);
    this.log.push({ op: "commit", token, doneAt: performance.now() });
  }
  async delete(token: string): Promise<void> {
    await sleep(this.delay);
    this.inner.delete(token);
    this.log.push({ op: "delete", token, doneAt: performance.now() });
  }
  async all(): Promise<Map<string, Uint8Array>> {
    return this.inner.all();
  }
}

/** A store whose commit always rejects, with the token in the error text (it must not leak). */
export class FailingCommitStore implements Store {
  readonly inner = new MemStore({ cleanupInterval: 0 });
  constructor(
    readonly makeError: (token: string) => Error = (t) => new Error(`disk full writing ${t}`),
  ) {}
  find(token: string): Uint8Array | undefined {
    return this.inner.find(token);
  }
  async commit(token: string): Promise<void> {
    throw this.makeError(token);
  }
  delete(token: string): void {
    this.inner.delete(token);
  }
}

/** A store that is down: every call rejects with StoreUnavailableError. */
export class UnavailableStore implements Store {
  async find(): Promise<Uint8Array | undefined> {
    throw new StoreUnavailableError("store unreachable");
  }
  async commit(): Promise<void> {
    throw new StoreUnavailableError("store unreachable");
  }
  async delete(): Promise<void> {
    throw new StoreUnavailableError("store unreachable");
  }
}

/** A MemStore that records every token it was asked for. */
export class RecordingStore extends MemStore {
  readonly finds: string[] = [];
  readonly deletes: string[] = [];
  override find(token: string): Uint8Array | undefined {
    this.finds.push(token);
    return super.find(token);
  }
  override delete(token: string): void {
    this.deletes.push(token);
    super.delete(token);
  }
}
