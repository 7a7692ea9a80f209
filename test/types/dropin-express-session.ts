// @ts-nocheck: checked by test/dropin/types.test.ts in a program of its own, against the built
// dist/*.d.ts as an application sees them (this repository's one program types req.session as
// scs-ts/express's). The test drops this line; every @ts-expect-error must stay an error.
import { csrfSync } from "csrf-sync";
import express from "express";
import passport from "passport";
import { SessionManager } from "scs-ts";
import session, { type ExpressSession } from "scs-ts/express-session";

// An application's existing declaration for express-session keeps typing req.session.
declare module "express-session" {
  interface SessionData {
    views: number;
    cart: string[];
  }
}

const app = express();
app.use(session({ sessions: new SessionManager() }));
app.use(
  session({
    name: "sid",
    secret: "accepted and ignored",
    resave: false,
    saveUninitialized: false,
    rolling: true,
    unset: "destroy",
    cookie: { maxAge: 60_000, secure: true, sameSite: "lax", path: "/", httpOnly: true },
  }),
);
app.use(session({ store: new session.MemoryStore(), lifetime: 3_600_000 }));
// @ts-expect-error sessions is a SessionManager
session({ sessions: {} });
// @ts-expect-error genid is not an option: tokens cannot be chosen
session({ genid: () => "x" });
// @ts-expect-error unset is "keep" or "destroy"
session({ unset: "forget" });

// A library typed against express-session compiles unchanged.
const { csrfSynchronisedProtection, generateToken } = csrfSync();
app.use(passport.initialize());
app.use(passport.session());

app.get("/", csrfSynchronisedProtection, (req, res, next) => {
  const views: number | undefined = req.session.views;
  req.session.views = (views ?? 0) + 1;
  // @ts-expect-error views is a number
  req.session.views = "many";
  req.session.cart?.push("book");
  delete req.session.cart;
  const whole: ExpressSession = req.session;
  const token: string = generateToken(req);
  const id: string = req.sessionID;
  const same: string = req.session.id;
  const maxAge: number | undefined = req.session.cookie.maxAge;
  req.session.cookie.maxAge = 1000;
  req.session.save((err) => {
    if (err) return next(err);
    req.session.regenerate((err2) => {
      if (err2) return next(err2);
      res.send(`${id} ${same} ${token} ${maxAge} ${whole.id}`);
    });
  });
});
