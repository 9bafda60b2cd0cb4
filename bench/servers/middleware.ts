/**
 * The one auth-like middleware of the handshake scenario, per framework, shared by wsmount and the
 * peer on that framework so both pay for exactly the same middleware.
 */
import type { NextFunction, Request, Response } from "express";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Context, Next } from "koa";
import { userFromAuthorization, type BenchUser } from "./contract.js";

/** Express: 401 without the token, else `req.user`. */
export function expressAuthenticate(req: Request & { user?: BenchUser }, res: Response, next: NextFunction): void {
  const user = userFromAuthorization(req.headers.authorization);
  if (!user) {
    res.status(401).end();
    return;
  }
  req.user = user;
  next();
}

/** Koa: 401 without the token, else `ctx.state.user`. */
export async function koaAuthenticate(ctx: Context, next: Next): Promise<void> {
  const user = userFromAuthorization(ctx.get("authorization") || undefined);
  if (!user) ctx.throw(401);
  ctx.state.user = user;
  await next();
}

/** Fastify (a preValidation hook): 401 without the token, else `request.user`. */
export async function fastifyAuthenticate(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const user = userFromAuthorization(request.headers.authorization);
  if (!user) return reply.code(401).send();
  (request as FastifyRequest & { user: BenchUser | null }).user = user;
}
