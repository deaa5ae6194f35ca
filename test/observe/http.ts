/**
 * Real HTTP against an app listening on an ephemeral port: the status page and /metrics are
 * exercised over the wire, as a browser or Prometheus sees them.
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
