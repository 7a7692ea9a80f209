/**
 * Tracking whether an rqlite cluster may be recovering, so reads can switch to `strong` for a
 * while. Internal to the rqlite client.
 *
 * Why: rqlite answers `weak` (and `none`) reads from a node's SQLite without going through the
 * Raft log. A new leader, or a cluster restarted on its data dirs, can answer before it has
 * applied every committed entry, so a read may miss acknowledged writes (a session one write
 * behind, which the app then writes back over the newer one). A `strong` read goes through the
 * log: when it succeeds, the leader has applied everything committed before it, and `weak`
 * reads from that leader are current again.
 * @module
 */

/**
 * Signs of trouble and their confirmation. Every sign (a failed attempt, a change of the node
 * that answers) starts a new epoch; a `strong` read that started in the current epoch and
 * succeeded settles it. Until then, and for at most `window` ms after the last sign, reads
 * should be `strong`. A new tracker starts unsettled: nothing is known about the cluster yet.
 */
export class RecoveryTracker {
  readonly #now: () => number;
  #epoch = 1;
  #settled = 0;
  #since: number;
  #lastNode = -1;

  /** @param now - the clock, in ms. */
  constructor(now: () => number) {
    this.#now = now;
    this.#since = now();
  }

  /** The current epoch: pass it to {@link answered} when a `strong` read started now succeeds. */
  get mark(): number {
    return this.#epoch;
  }

  /** Time of the last unconfirmed sign of trouble, or `undefined` when settled. */
  get unsettledSince(): number | undefined {
    return this.#epoch === this.#settled ? undefined : this.#since;
  }

  /** True when a read should go `strong`: unsettled, and the last sign is less than `window` ms old. */
  recovering(window: number): boolean {
    return window > 0 && this.#epoch !== this.#settled && this.#now() - this.#since < window;
  }

  /** A sign that the cluster may be recovering (a failed attempt). */
  disturbed(): void {
    this.#epoch++;
    this.#since = this.#now();
  }

  /**
   * A node answered. A different node than last time is a sign of trouble (the cluster may
   * have a new leader); `strongMark`, the {@link mark} taken when a `strong` read started,
   * settles that epoch if nothing happened since.
   */
  answered(node: number, strongMark: number | undefined): void {
    if (this.#lastNode !== -1 && node !== this.#lastNode) this.disturbed();
    this.#lastNode = node;
    if (strongMark === this.#epoch) this.#settled = strongMark;
  }
}
