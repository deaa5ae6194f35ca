/**
 * Real HTTP against an app listening on an ephemeral port. (app.inject would be the lighter way,
 * but under Jest it fails to load light-my-request's dependency `cookie` 2, an ES module that
 * Jest's CommonJS runtime cannot require; see the report to the lead.)
 */
import type { FastifyInstance } from "fastify";

export async function withListeningApp<T>(app: FastifyInstance, fn: (baseUrl: string) => Promise<T>): Promise<T> {
  const baseUrl = await app.listen({ port: 0, host: "127.0.0.1" });
  try {
    return await fn(baseUrl);
  } finally {
    await app.close();
  }
}
