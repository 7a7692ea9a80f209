// Type tests for Session<Data>: checked by `tsc` in `npm test`. Every @ts-expect-error line
// must be an error; if the types regress and it compiles, the typecheck fails.
import { SessionManager } from "../../src/index.ts";

interface AppData {
  userId: string;
  cart: string[];
  visits: number;
}

const sessions = new SessionManager<AppData>();

export async function sessionTypes(): Promise<void> {
  const session = await sessions.load(undefined);

  const userId: string | undefined = session.get("userId");
  const cart: string[] | undefined = session.get("cart");
  session.put("cart", ["book"]);
  session.put("visits", 3);
  const popped: number | undefined = session.pop("visits");
  void [userId, cart, popped];

  // @ts-expect-error cart holds string[], not a number
  session.put("cart", 3);
  // @ts-expect-error no such key in AppData
  session.get("nope");
  // @ts-expect-error get returns string | undefined, not string
  const sure: string = session.get("userId");
  void sure;
  // @ts-expect-error keys are AppData's
  session.remove("other");

  const keys: ("userId" | "cart" | "visits")[] = session.keys();
  void keys;
  const n: number = session.getNumber("visits");
  void n;

  // An untyped manager accepts any key and value.
  const loose = await new SessionManager().load(undefined);
  loose.put("anything", { deep: [1, 2] });
  const value: unknown = loose.get("anything");
  void value;

  // commit and from keep the Data type
  const { token } = await sessions.commit(session);
  const again = await sessions.load(token);
  // @ts-expect-error visits is a number
  again.put("visits", "3");
}
