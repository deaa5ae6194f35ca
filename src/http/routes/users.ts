/** Admin routes under /v1/users: one person's history across runs and jobs. */
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { entraIdsOf, historyOf } from "../../db/items";
import type { AppDeps } from "../deps";
import { HistoryItem } from "../models";
import { json, Nullable, problems, ref } from "../schemas";

export const PersonKey = Type.String({
  minLength: 1,
  maxLength: 320,
  description: "An Entra object id, or an e-mail (anything with an @, compared case-insensitively).",
});

export async function registerUserRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const routes = app.withTypeProvider<TypeBoxTypeProvider>();
  routes.get(
    "/v1/users/:user/history",
    {
      schema: {
        tags: ["admin"],
        summary: "One person's history: every item about them across runs and jobs, newest first",
        description:
          "By Entra object id, or by e-mail: then every Entra user an item ever recorded under that e-mail, and all of their items, so items written before or after a change of e-mail are found alike (entraIds says who was found; items carry their entraId). A person no item mentions gives an empty page. Each item: action, status, diff, reason, error, the run and its job, and when.",
        params: Type.Object({ user: PersonKey }, { additionalProperties: false }),
        querystring: Type.Object(
          {
            cursor: Type.Optional(
              Type.String({ minLength: 1, maxLength: 100, description: "The nextCursor of the previous page." }),
            ),
            limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: json(
            "A page of the person's items.",
            Type.Object({
              user: Type.String({ description: "As asked for." }),
              entraIds: Type.Array(Type.String(), { description: "The Entra users the items are about." }),
              items: Type.Array(ref(HistoryItem)),
              nextCursor: Nullable(Type.String()),
            }),
          ),
          ...problems(400, 401, 429, 503),
        },
      },
    },
    async (request) => {
      const { user } = request.params;
      const entraIds = await entraIdsOf(deps.db.pool, user);
      const { cursor, limit } = request.query;
      return { user, entraIds, ...(await historyOf(deps.db.pool, entraIds, { limit, ...(cursor ? { cursor } : {}) })) };
    },
  );
}
