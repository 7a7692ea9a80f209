/**
 * RedisStore's deadline on client calls without a timer per call: calls that start within the
 * same twentieth of the deadline share one timer, which rejects those still waiting when it
 * fires (between 1 and 1.05 deadlines after they started). A group whose calls have all settled
 * lets its timer go (unref'd while later calls of its slot may still join, cleared after), so
 * nothing holds the process once the calls are done.
 * @module
 */
import { StoreUnavailableError } from "../errors.ts";
import { unavailable } from "./redis-errors.ts";

/** The calls that started in one slot of time, and their shared timer. */
interface Group {
  readonly opened: number;
  /** Calls of the group not settled yet. */
  open: number;
  readonly calls: { expire(): void }[];
  timer: NodeJS.Timeout | undefined;
}

/** One client call: settles once, with the reply (through `map`), the client's error or the deadline. */
class Call<R, T> {
  done = false;
  resolve!: (value: T) => void;
  reject!: (err: unknown) => void;
  readonly map: (reply: R) => T;
  readonly group: Group;
  readonly owner: Deadlines;

  constructor(map: (reply: R) => T, group: Group, owner: Deadlines) {
    this.map = map;
    this.group = group;
    this.owner = owner;
  }

  ok(reply: R): void {
    if (this.done) return;
    this.done = true;
    try {
      this.resolve(this.map(reply));
    } catch (err) {
      this.reject(err);
    }
    this.owner.settled(this.group);
  }

  fail(err: unknown): void {
    if (this.done) return;
    this.done = true;
    this.reject(unavailable(err));
    this.owner.settled(this.group);
  }

  expire(): void {
    if (this.done) return;
    this.done = true;
    this.reject(
      new StoreUnavailableError(
        `redis unavailable: no answer within the ${this.owner.deadline} ms deadline`,
      ),
    );
    this.owner.settled(this.group);
  }
}

/** The deadline of one store's calls, and how many are in flight (for `close()`). */
export class Deadlines {
  /** The deadline, ms. */
  readonly deadline: number;
  readonly #slot: number;
  #current: Group | undefined;
  #inflight = 0;
  #idle: (() => void)[] = [];

  /** @param deadline - ms a call may take. */
  constructor(deadline: number) {
    this.deadline = deadline;
    this.#slot = Math.max(1, deadline / 20);
  }

  /**
   * Bounds a call the client has started (or failed to start: `start` may throw).
   * @returns a Promise of `map(reply)`, rejected with StoreUnavailableError on a client error
   * or at the deadline.
   */
  track<R, T>(start: () => Promise<R>, map: (reply: R) => T): Promise<T> {
    let sent: Promise<R>;
    try {
      sent = start();
    } catch (err) {
      return Promise.reject(unavailable(err));
    }
    const group = this.#group();
    const call = new Call<R, T>(map, group, this);
    group.calls.push(call);
    this.#inflight++;
    const promise = new Promise<T>((resolve, reject) => {
      call.resolve = resolve;
      call.reject = reject;
    });
    sent.then(
      (reply) => call.ok(reply),
      (err: unknown) => call.fail(err),
    );
    return promise;
  }

  /** Resolves once no call is in flight. */
  idle(): Promise<void> {
    if (this.#inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** A call of `group` settled (its caller already answered). */
  settled(group: Group): void {
    if (--group.open === 0) {
      group.calls.length = 0;
      if (this.#current === group) {
        // Still open to calls of its slot: keep the timer (a call after the next one reuses
        // it) but let it no longer hold the process.
        group.timer?.unref();
      } else {
        clearTimeout(group.timer);
        group.timer = undefined;
      }
    }
    if (--this.#inflight === 0 && this.#idle.length > 0) {
      const waiting = this.#idle;
      this.#idle = [];
      for (const resolve of waiting) resolve();
    }
  }

  /** The group a call starting now joins (a new one after a slot, or when the last emptied). */
  #group(): Group {
    const now = performance.now();
    let group = this.#current;
    if (group === undefined || now - group.opened >= this.#slot) {
      if (group !== undefined && group.open === 0) {
        clearTimeout(group.timer);
        group.timer = undefined;
      }
      const fresh: Group = { opened: now, open: 0, calls: [], timer: undefined };
      // Request-scoped and bounded by the deadline: it holds the process like the requests do.
      fresh.timer = setTimeout(() => {
        fresh.timer = undefined;
        if (this.#current === fresh) this.#current = undefined;
        for (const call of fresh.calls.splice(0)) call.expire();
      }, this.deadline + this.#slot);
      this.#current = fresh;
      group = fresh;
    } else if (group.open === 0) {
      group.timer?.ref();
    }
    group.open++;
    return group;
  }
}
