/**
 * `scs-ts/testing`: the store conformance suite. Run it from a test file to check that a store
 * keeps the SCS store contract.
 *
 * @example
 * import { storeConformance } from "scs-ts/testing";
 * storeConformance("MyStore", { makeStore: () => new MyStore() });
 * @module
 */
export {
  type DescribeFn,
  type ItFn,
  type StoreConformanceOptions,
  storeConformance,
} from "./conformance.ts";
