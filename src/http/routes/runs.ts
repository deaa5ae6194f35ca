/** Admin routes under /v1/runs: one run, its items (JSON or CSV), cancel, approve and acknowledge. */
import { Readable } from "node:stream";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { ItemQuery, RunItem } from "../../core/runs";
import { ITEM_ACTIONS } from "../../core/runs";
import type { SyncService } from "../../sync/service";
import { csvRow } from "../csv";
import type { AppDeps } from "../deps";
import { RunItem as RunItemSchema, RunSummary } from "../models";
import { EmptyBody, json, NoQuery, Nullable, problems, RunParams, ref, StringEnum } from "../schemas";

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

const admin = { tags: ["admin"], params: RunParams, querystring: NoQuery };

/** cancel, approve and acknowledge: the run after the transition, or 409 when its state does not allow it. */
function transition(summary: string) {
  return {
    ...admin,
    summary,
    body: EmptyBody,
    response: { 200: json("The run.", ref(RunSummary)), ...problems(400, 401, 404, 409, 429, 503) },
  };
}

export async function registerRunRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { sync } = deps;
  const routes = app.withTypeProvider<TypeBoxTypeProvider>();

  routes.get(
    "/v1/runs/:id",
    {
      schema: {
        ...admin,
        summary: "One run",
        response: { 200: json("The run.", ref(RunSummary)), ...problems(400, 401, 404, 429, 503) },
      },
    },
    async (request) => sync.run(request.params.id),
  );

  routes.get(
    "/v1/runs/:id/items",
    {
      schema: {
        ...admin,
        summary: "The run's items (JSON pages, or the whole export as CSV)",
        description:
          "JSON by default: one page and the cursor of the next. With Accept text/csv: every matching item from the cursor on (fetched limit at a time and streamed), RFC 4180 with a header row and CRLF line ends; cells starting with =, +, -, @, tab or CR are prefixed with an apostrophe so spreadsheets do not run them as formulas; diff is a JSON cell.",
        querystring: Type.Object(
          {
            action: Type.Optional(StringEnum(ITEM_ACTIONS)),
            search: Type.Optional(
              Type.String({
                minLength: 1,
                maxLength: 200,
                description: "Case-insensitive substring of the e-mail or display name.",
              }),
            ),
            cursor: Type.Optional(
              Type.String({ minLength: 1, maxLength: 1000, description: "The nextCursor of the previous page." }),
            ),
            limit: Type.Integer({
              minimum: 1,
              maximum: 1000,
              default: 100,
              description: "Page size (for CSV, the size of the pages the export is fetched in).",
            }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: {
            description: "Items.",
            content: {
              "application/json": {
                schema: Type.Object({ items: Type.Array(ref(RunItemSchema)), nextCursor: Nullable(Type.String()) }),
              },
              "text/csv": {
                // Streamed: a Readable of CSV rows (see csvExport).
                schema: Type.Unsafe<Readable>({ type: "string", description: `Columns ${CSV_COLUMNS.join(", ")}.` }),
              },
            },
          },
          ...problems(400, 401, 404, 429, 503),
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

  routes.post(
    "/v1/runs/:id/advance",
    {
      schema: {
        ...admin,
        summary: "Advance the run by one step (what its job's continue link does, for this run)",
        description:
          'One step within STEP_BUDGET_MS, or advanced false at once with the reason: "busy" (another process holds the run\'s lease; ask again shortly), or the state that stops it ("completed", "awaiting approval", ...). The CLI\'s run command drives a run with it.',
        body: EmptyBody,
        response: {
          200: json(
            "The outcome and the run after it.",
            Type.Object({
              advanced: Type.Boolean(),
              reason: Type.Optional(Type.String()),
              run: Type.Union([ref(RunSummary), Type.Null()]),
            }),
          ),
          ...problems(400, 401, 404, 429, 503),
        },
      },
    },
    async (request) => {
      const { advanced, reason, run } = await sync.advanceRun(request.params.id);
      return { advanced, ...(reason === undefined ? {} : { reason }), run };
    },
  );

  routes.post("/v1/runs/:id/cancel", { schema: transition("Cancel a run that has not finished") }, async (request) =>
    sync.cancelRun(request.params.id),
  );

  routes.post(
    "/v1/runs/:id/approve",
    { schema: transition("Approve a run stopped by the safety guard (awaiting_approval -> reconciling)") },
    async (request) => sync.approveRun(request.params.id),
  );

  routes.post(
    "/v1/runs/:id/acknowledge",
    {
      schema: {
        ...transition(
          "Acknowledge a failed run, or one awaiting approval, so its job's continue link answers 200 again",
        ),
        description:
          "Sets acknowledgedAt (the first time only). The run itself does not change: a run awaiting approval still waits for approve or cancel, but its continue link no longer answers 503 once APPROVAL_OVERDUE_MS has passed.",
      },
    },
    async (request) => sync.acknowledgeRun(request.params.id),
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
