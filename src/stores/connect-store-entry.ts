/**
 * `scs-ts/connect-store`: any express-session (Connect) store as an scs-ts `Store`, so a
 * {@link SessionManager} can keep its sessions in infrastructure you already run through
 * connect-redis, connect-pg-simple, connect-mongo and the like. No runtime dependency: the
 * store is used through its methods, express-session is never imported.
 *
 * @example
 * import session from "express-session";
 * import connectPgSimple from "connect-pg-simple";
 * import { fromExpressStore } from "scs-ts/connect-store";
 *
 * const PgStore = connectPgSimple(session);
 * const store = fromExpressStore(new PgStore({ pool }));
 * @module
 */

export {
  type BridgedStore,
  type ExpressSessionStoreLike,
  ExpressStoreBridge,
  type FromExpressStoreOptions,
  fromExpressStore,
  type IterableExpressStoreBridge,
} from "./connect-store.ts";
export type { ExpressStoreCallback } from "./connect-store-call.ts";
export type { BridgedCookie, BridgedSessionRecord } from "./connect-store-record.ts";
