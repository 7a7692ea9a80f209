/**
 * The session manager of the React Router example: one per app, in a `.server` module so it
 * never reaches the browser bundle. Swap the default MemStore for an RqliteStore (or any
 * store) in production.
 */
import { SessionManager } from "../../../src/index.ts";

export type Data = { visits: number; userId: string };

export const sessions = new SessionManager<Data>({ lifetime: 12 * 3_600_000 });
