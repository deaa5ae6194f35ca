/** Admin routes under /v1/runs: one run, its items (JSON or CSV), cancel and approve. */
import { Readable } from "node:stream";
import type { FastifyInstance } from "fastify";
import type { ItemQuery, RunItem } from "../../core/runs";
import { ITEM_ACTIONS } from "../../core/runs";
import type { SyncService } from "../../sync/service";
import { csvRow } from "../csv";
import type { AppDeps } from "../deps";
import { emptyBody, noQuery, runParams } from "../schemas";

type RunParams = { Params: { id: string } };
type ItemsQuery = { Querystring: { action?: ItemQuery["action"]; search?: string; cursor?: string; limit: number } };

const CSV_COLUMNS = [
  "id",
  "entraId",
  "wpUserId",
  "action",
  "status",
  "email",
  "displayName",
  "reason",
  "error",
  "diff",
  "createdAt",
] as const satisfies readonly (keyof RunItem)[];

export async function registerRunRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { sync } = deps;
  const byId = { params: runParams, querystring: noQuery };

  app.get<RunParams>("/v1/runs/:id", { schema: byId }, async (request) => sync.run(request.params.id));

  app.get<RunParams & ItemsQuery>(
    "/v1/runs/:id/items",
    {
      schema: {
        params: runParams,
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            action: { type: "string", enum: ITEM_ACTIONS },
            search: { type: "string", minLength: 1, maxLength: 200 },
            cursor: { type: "string", minLength: 1, maxLength: 1000 },
            limit: { type: "integer", minimum: 1, maximum: 1000, default: 100 },
          },
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      await sync.run(id); // 404 for an unknown run, before anything is streamed
      const { action, search, cursor, limit } = request.query;
      const query: ItemQuery = { limit, ...definedOnly({ action, search, cursor }) };
      const first = await sync.items(id, query);
      if (!/\btext\/csv\b/i.test(request.headers.accept ?? "")) return first;
      return reply
        .type("text/csv; charset=utf-8")
        .header("content-disposition", `attachment; filename="run-${id}-items.csv"`)
        .send(Readable.from(csvExport(sync, id, query, first)));
    },
  );

  app.post<RunParams>("/v1/runs/:id/cancel", { schema: { ...byId, body: emptyBody } }, async (request) =>
    sync.cancelRun(request.params.id),
  );

  app.post<RunParams>("/v1/runs/:id/approve", { schema: { ...byId, body: emptyBody } }, async (request) =>
    sync.approveRun(request.params.id),
  );
}

/**
 * The CSV is an export: every matching item from the cursor on, fetched `limit` at a time and
 * streamed, so memory stays flat however large the run.
 */
async function* csvExport(
  sync: SyncService,
  runId: string,
  query: ItemQuery,
  first: { items: RunItem[]; nextCursor: string | null },
): AsyncGenerator<string> {
  yield csvRow(CSV_COLUMNS);
  let page = first;
  for (;;) {
    for (const item of page.items) yield csvRow(CSV_COLUMNS.map((column) => item[column]));
    if (!page.nextCursor) return;
    page = await sync.items(runId, { ...query, cursor: page.nextCursor });
  }
}

function definedOnly<T extends Record<string, unknown>>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as Partial<T>;
}
