// Type tests for the Fastify adapter, checked by `tsc` (never run): every `@ts-expect-error`
// line must stay an error, or the typecheck fails.
import Fastify from "fastify";
import { fastifySession } from "../../src/adapters/fastify.ts";
import { SessionManager } from "../../src/manager.ts";

declare module "../../src/adapters/fastify.ts" {
  interface FastifySessionData {
    userId: string;
    cart: string[];
  }
}

export async function typeTests(): Promise<void> {
  const sessions = new SessionManager<{ userId: string; cart: string[] }>();
  const app = Fastify();
  await app.register(fastifySession, { sessions });
  await app.register(fastifySession, { sessions, header: "X-Session" });
  // @ts-expect-error the header option is a header name
  await app.register(fastifySession, { sessions, header: 3 });
  // @ts-expect-error sessions is required
  await app.register(fastifySession, {});

  app.get("/", async (request) => {
    const userId: string | undefined = request.session.get("userId");
    request.session.put("cart", ["book"]);
    // @ts-expect-error cart is string[]
    request.session.put("cart", 3);
    // @ts-expect-error not a declared key
    request.session.get("nope");
    // @ts-expect-error cart is string[]
    sessions.from(request).put("cart", 3);
    return userId;
  });
}
