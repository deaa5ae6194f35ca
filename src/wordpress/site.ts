import { randomBytes } from "node:crypto";
import { UpstreamError } from "../core/errors";
import type { Assumption } from "../core/plan";
import { CORE_ROLES, capabilitiesBeyond, capabilitiesOf, PROTECTED_CODE } from "../core/privileges";
import { ENTRA_ID_META, type WpUser, type WpWrite } from "../core/users";
import type { ConditionalWrite, Site, SiteInfo } from "../sync/ports";
import {
  type BatchAnswer,
  type BatchOp,
  type BatchResult,
  makeBatcher,
  reportingOperations,
  type SendBatch,
} from "./batch";
import {
  connectWordPress,
  markAfterAmbiguousFailure,
  type WordPressConnectionOptions,
  type WpRequest,
  type WpResponse,
  wasAfterAmbiguousFailure,
} from "./client";
import { CORE_BATCH_ROUTE, coreBatchSender, detectCoreBatch } from "./core-batch";
import { classifyResponse } from "./errors";
import { acceptedMetaKeys, DEACTIVATED_META, holdsAssumption, toRestBody, toWpUser, USER_FIELDS } from "./users";

export type WordPressSiteOptions = WordPressConnectionOptions & {
  /**
   * Send writes in batches (default true): through the companion plugin's batch endpoint when it has
   * one, else through WordPress core's POST /batch/v1 when core batches user routes (6.6 and later);
   * false keeps one REST request per write (tests and benches compare the two).
   */
  bulk?: boolean;
  /** Operations per batch request (never more than the plugin accepts). */
  batchSize?: number;
  /** Batch requests in flight at once: the writes that wait meanwhile make up the next ones (see batch.ts). */
  batchInFlight?: number;
};

/** What GET /entra-wp-sync/v1/status says; null without the companion plugin. */
interface Plugin {
  version: string;
  /** Role -> capabilities on this site. */
  roles: Record<string, string[]>;
  /**
   * The id (uuid) of the Application Password this service authenticates with. Sent back in
   * SERVICE_HEADER on writes: the plugin suppresses notification mails only when it equals the
   * password WordPress authenticated the request with, i.e. for this service, never for people.
   */
  serviceId: string | null;
  /** Operations per POST /entra-wp-sync/v1/users/batch; 0 for a plugin without that endpoint. */
  batchMax: number;
  /** The batch endpoint checks an update's `expect` (plugin 1.3.0); an older one would ignore it and write. */
  batchExpect: boolean;
}

const SERVICE_HEADER = "x-entra-wp-sync-service";

const PER_PAGE = 100; // REST maximum

const BATCH_ROUTE = "/entra-wp-sync/v1/users/batch";
/** The three ways writes travel, as logged once per site (see batchWriter). */
export type WritePath = "plugin-batch" | "core-batch" | "per-user";
/** Measured with bench/write-tuning.ts (docs/plugin.md "Bulk writes"); config.ts WP_BATCH_SIZE / WP_BATCH_IN_FLIGHT. */
const DEFAULT_BATCH_SIZE = 100;
const DEFAULT_BATCH_IN_FLIGHT = 2;

const WRITE_PATH_MESSAGES: Record<WritePath, string> = {
  "plugin-batch": "wordpress writes go through the companion plugin's batch endpoint (one transaction per batch)",
  "core-batch":
    "wordpress writes go through WordPress core's POST /batch/v1 (no companion plugin; each user commits on its own)",
  "per-user": "wordpress writes go one REST request per user",
};

/** A conditional write the plugin's guard refused (see updateIfUnchanged). */
const REFUSED = Symbol("refused by the guard");

function guardOf(guard: readonly string[] | undefined): { guard?: string[] } {
  return guard === undefined ? {} : { guard: [...guard] };
}

export function makeWordPressSite(options: WordPressSiteOptions): Site {
  const client = connectWordPress(options);
  const logger = options.logger;
  const warned = new Set<string>();

  let pluginPromise: Promise<Plugin | null> | null = null;
  /** Detected once per site instance; a failed detection is retried by the next call. */
  function plugin(): Promise<Plugin | null> {
    pluginPromise ??= detectPlugin().catch((error) => {
      pluginPromise = null;
      throw error;
    });
    return pluginPromise;
  }

  async function detectPlugin(): Promise<Plugin | null> {
    try {
      const res = await client.request({ method: "GET", route: "/entra-wp-sync/v1/status" });
      const body = res.body as {
        version?: unknown;
        roles?: unknown;
        app_password?: unknown;
        batch_max?: unknown;
        batch_expect?: unknown;
      };
      const roles: Record<string, string[]> = {};
      if (body.roles && typeof body.roles === "object") {
        for (const [role, caps] of Object.entries(body.roles)) {
          roles[role] = Array.isArray(caps) ? caps.filter((cap): cap is string => typeof cap === "string") : [];
        }
      }
      const serviceId = typeof body.app_password === "string" ? body.app_password : null;
      const batchMax = Number.isInteger(body.batch_max) ? Math.max(0, body.batch_max as number) : 0;
      const batchExpect = batchMax > 0 && body.batch_expect === true;
      // Not awaited: a step waiting on plugin detection must not wait on this too (a slow
      // WordPress would hold the step past its budget); the warning comes when the answer does.
      if (serviceId !== null) void checkServicePin(serviceId).catch(() => undefined);
      return { version: String(body.version ?? ""), roles, serviceId, batchMax, batchExpect };
    } catch (error) {
      if (error instanceof UpstreamError && error.details.status === 404) return null; // rest_no_route
      throw error;
    }
  }

  /**
   * Asks once, naming this service's password as its writes do, whether the plugin takes it for
   * the service's (plugin 1.7.0 answers `service`). It does not when another administrator's
   * password is pinned, or WP_USERNAME is no administrator: WordPress then mails people about
   * every change the service makes, which nobody would notice until the mails went out.
   */
  async function checkServicePin(serviceId: string): Promise<void> {
    const res = await client.request({
      method: "GET",
      route: "/entra-wp-sync/v1/status",
      headers: { [SERVICE_HEADER]: serviceId },
    });
    if ((res.body as { service?: unknown }).service !== false) {
      logger.debug("wordpress: the companion plugin takes this service's Application Password for the service's");
      return;
    }
    warnOnce(
      "service-pin",
      `wordpress: the companion plugin does not take this service's Application Password (${serviceId}) for the service's, so WordPress will send its usual notification e-mails ("email changed", "password changed") for the service's writes: another password is pinned, or WP_USERNAME is not an administrator; name this one in wp-config.php with define('ENTRA_WP_SYNC_SERVICE_APP_PASSWORD', '${serviceId}') (docs/plugin.md)`,
    );
  }

  function warnOnce(key: string, message: string): void {
    if (warned.has(key)) return;
    warned.add(key);
    logger.warn(message);
  }

  let metaPromise: Promise<Set<string>> | null = null;
  /** The user meta keys WordPress accepts over REST, asked once per site instance (retried after a failure). */
  function acceptedMeta(): Promise<Set<string>> {
    metaPromise ??= detectAcceptedMeta().catch((error) => {
      metaPromise = null;
      throw error;
    });
    return metaPromise;
  }

  async function detectAcceptedMeta(): Promise<Set<string>> {
    try {
      return acceptedMetaKeys((await client.request({ method: "OPTIONS", route: "/wp/v2/users" })).body);
    } catch (error) {
      if (!(error instanceof UpstreamError) || error.kind === "transient" || error.kind === "throttled") throw error;
      // A proxy or a security plugin may refuse OPTIONS: the meta object of a context=edit read
      // lists the registered keys too (string keys carry "" when unset).
      const me = await client.request({
        method: "GET",
        route: "/wp/v2/users/me",
        query: { context: "edit", _fields: "meta" },
      });
      return new Set(Object.keys(toWpUser(me.body).meta));
    }
  }

  async function body(write: WpWrite, extraMeta: Record<string, string> = {}): Promise<Record<string, unknown>> {
    const { body, dropped } = toRestBody(write, await acceptedMeta(), extraMeta);
    for (const key of dropped) {
      const metaKey = key.slice(5);
      warnOnce(
        `drop:${key}`,
        key.startsWith("meta.") && metaKey.length > 0
          ? `WordPress at ${client.context.setting.url} does not accept the user meta key "${metaKey}" over REST, so ${key} is not written: ` +
              `register it (register_meta('user', '${metaKey}', ['type' => 'string', 'single' => true, 'show_in_rest' => true]) ` +
              "in a plugin or the theme), or list it in ENTRA_WP_SYNC_META_KEYS of the companion plugin (wordpress-plugin/entra-wp-sync/)"
          : `WordPress field ${key} is not a user field the service can write; ignored`,
      );
    }
    return body;
  }

  /** Writes say they come from this service (see Plugin.serviceId). */
  async function sendAsService(req: WpRequest): Promise<WpResponse> {
    const serviceId = (await plugin())?.serviceId;
    return client.request(serviceId ? { ...req, headers: { [SERVICE_HEADER]: serviceId } } : req);
  }

  const sendBatch: SendBatch = reportingOperations(async (operations) => {
    const res = await sendAsService({ method: "POST", route: BATCH_ROUTE, body: { operations }, batch: true });
    const results = (res.body as { results?: unknown }).results;
    return {
      results: Array.isArray(results) ? (results as BatchResult[]) : [],
      afterAmbiguousFailure: res.afterAmbiguousFailure,
    };
  }, options.metrics?.onOperation?.bind(options.metrics));
  /** Operations per batch (at most `max`, the endpoint's own limit) and batches in flight at once. */
  function batchLimits(max: number): { max: number; inFlight: number } {
    return {
      max: Math.min(options.batchSize ?? DEFAULT_BATCH_SIZE, max),
      // Batch requests are WordPress requests too: more than the client's concurrency would only queue.
      inFlight: Math.min(
        options.batchInFlight ?? DEFAULT_BATCH_IN_FLIGHT,
        options.concurrency ?? Number.POSITIVE_INFINITY,
      ),
    };
  }

  function writerOf(path: BatchWriter["path"], route: string, send: SendBatch, max: number): BatchWriter {
    const limits = batchLimits(max);
    return { path, route, write: makeBatcher(send, limits), atOnce: limits.max * limits.inFlight };
  }

  interface BatchWriter {
    path: Exclude<WritePath, "per-user">;
    route: string;
    write: (op: BatchOp) => Promise<BatchAnswer>;
    /** Users' writes its batches take at once (size x in flight): the engine works on that many. */
    atOnce: number;
  }

  let writerPromise: Promise<BatchWriter | null> | null = null;
  /** The decided writer's route, for messages about its operations (only read once a batch answered). */
  let writerRoute = BATCH_ROUTE;
  /**
   * How this site's writes travel, decided once per site instance (a failed detection is retried by
   * the next call) and logged then: the plugin's batch (one transaction, guard) when the plugin has
   * one; core's /batch/v1 when there is no plugin and core batches user routes; null: per-user REST.
   */
  function batchWriter(): Promise<BatchWriter | null> {
    writerPromise ??= chooseBatchWriter().then(
      (writer) => {
        const path: WritePath = writer?.path ?? "per-user";
        if (writer) writerRoute = writer.route;
        logger.info({ writePath: path }, WRITE_PATH_MESSAGES[path]);
        return writer;
      },
      (error) => {
        writerPromise = null;
        throw error;
      },
    );
    return writerPromise;
  }

  /** This site's writes go one request each from now on (the writes already waiting follow). */
  function stopCoreBatch(error: UpstreamError): void {
    writerPromise = Promise.resolve(null);
    warnOnce(
      "core-batch-refused",
      `WordPress refused ${CORE_BATCH_ROUTE} as a whole (${error.message}); wordpress writes go one REST request per user from now on`,
    );
  }

  async function chooseBatchWriter(): Promise<BatchWriter | null> {
    if (options.bulk === false) return null;
    const p = await plugin();
    if (p) return p.batchMax >= 1 ? writerOf("plugin-batch", BATCH_ROUTE, sendBatch, p.batchMax) : null;
    const max = await detectCoreBatch(client);
    if (max < 1) return null;
    const send = reportingOperations(
      coreBatchSender(client, { context: "edit", _fields: USER_FIELDS }),
      options.metrics?.onOperation?.bind(options.metrics),
    );
    return writerOf("core-batch", CORE_BATCH_ROUTE, send, max);
  }

  /**
   * One write through a batch when the site has one (batchWriter), else `perUser`; `coreOp` is the
   * operation as core's batch carries it (the per-user request's body). A batch that fails as a whole
   * with HTTP 500 (PHP died on one user's data) is replayed one write at a time, so one bad user
   * fails alone, as on the per-user path. The plugin's batch was rolled back by the database; core's
   * has no transaction and may have applied some writes, so the replay is read like a retry after a
   * lost answer ("exists" from our own create, "not found" from our own delete).
   */
  async function writeUser<T>(
    op: BatchOp,
    perUser: () => Promise<T>,
    read: (answer: BatchAnswer) => T,
    coreOp: BatchOp = op,
    /** The caller judged the guard on a read it made right before (updateCheckedByRead). */
    guardChecked = false,
  ): Promise<T> {
    const checkGuard = guardCheck(op);
    const writer = await batchWriter();
    if (!writer) {
      if (!guardChecked) await checkGuard();
      return perUser();
    }
    // Outside the try below: a refusal concerns this user, not core's batch route.
    if (writer.path === "core-batch" && !guardChecked) await checkGuard();
    let answer: BatchAnswer;
    try {
      answer = await writer.write(writer.path === "core-batch" ? coreOp : op);
    } catch (error) {
      const status = error instanceof UpstreamError ? error.details.status : undefined;
      if (writer.path === "core-batch" && typeof status === "number" && status > 401 && status < 500) {
        // Refused as a whole, before any of it ran (core checks the whole request first; a 429 was
        // retried): a firewall or a security plugin may block the batch route and not the user routes.
        // (401, credentials refused, would be refused one by one as well: thrown as it is.)
        stopCoreBatch(error as UpstreamError);
      } else if (status !== 500) throw error;
      await checkGuard();
      if (writer.path === "plugin-batch") return perUser();
      try {
        return await perUser();
      } catch (replayError) {
        // Core has no transaction: after a 500, or after an attempt that got no answer, some writes
        // of the batch may be in WordPress already.
        throw status === 500 || wasAfterAmbiguousFailure(error) ? markAfterAmbiguousFailure(replayError) : replayError;
      }
    }
    return read(answer);
  }

  /**
   * The operation's guard, checked where the plugin's batch cannot check it (per-user REST,
   * core's batch, a replay after a failed batch): WordPress core has no conditional write, so the
   * user's capabilities are read again right before the write is sent, judged as the plugin's guard
   * would (the roles' capabilities as the site reports them; WordPress's core roles without the
   * plugin, so a custom role counts for none of its elevated capabilities). This shrinks the window
   * between the engine's read and the write to one request; it cannot close it as the plugin does.
   */
  function guardCheck(op: BatchOp): () => Promise<void> {
    const guard = "guard" in op ? op.guard : undefined;
    if (guard === undefined || !("id" in op)) return async () => undefined;
    return async () => {
      const user = await getUser(op.id);
      if (!user) return; // the write itself answers "not found"
      const beyond = await beyondGuard(user, guard);
      if (beyond.length > 0) {
        throw protectedError(
          `WordPress ${op.op} of user ${op.id} refused before it was sent`,
          `user ${op.id} holds capabilities the synced roles do not grant: ${beyond.join(", ")}`,
        );
      }
    };
  }

  /**
   * The elevated capabilities `user` holds beyond what the `guard` roles grant, judged as the
   * plugin's guard would (the roles' capabilities as the site reports them; WordPress's core roles
   * without the plugin, so a custom role counts for none of its elevated capabilities).
   */
  async function beyondGuard(user: WpUser, guard: readonly string[]): Promise<string[]> {
    const catalogue = (await plugin())?.roles ?? CORE_ROLES;
    return capabilitiesBeyond(user.capabilities, new Set(capabilitiesOf(guard, catalogue)));
  }

  /**
   * An update or reactivation planned without a read (Site.updateIfUnchanged) where WordPress
   * cannot check what the plan assumed (no plugin batch endpoint: core's batch or one request per
   * write): one read right before the write checks the assumption as the plugin does in PHP
   * (holdsAssumption) and the guard (beyondGuard), and the write follows without another read. The
   * engine used to read the user, plan, and then read it again for the guard: three requests per
   * changed user, now two. The window in which a change made in WordPress goes unseen is the same
   * as the guard's was: from this read to the write, with no planning between them. Not held: the
   * user as read, which the engine plans again from (a second read then guards that write).
   */
  async function updateCheckedByRead(
    id: number,
    kind: "update" | "reactivate",
    assumption: Assumption,
    write: WpWrite,
  ): Promise<ConditionalWrite> {
    const before = await getUser(id);
    if (!before || !holdsAssumption(before, assumption)) return { applied: false, before };
    if ((await beyondGuard(before, assumption.guard)).length > 0) return { applied: false, before };
    const user =
      kind === "update"
        ? await updateWith(id, write, assumption.guard, true)
        : await reactivateWith(id, write, assumption.guard, true);
    return { applied: true, before, user };
  }

  async function updateWith(
    id: number,
    write: WpWrite,
    guard: readonly string[] | undefined,
    guardChecked = false,
  ): Promise<WpUser> {
    const payload = await body(write);
    if (Object.keys(payload).length === 0) {
      const user = await getUser(id);
      if (!user) throw new UpstreamError(`WordPress user ${id} not found`, "wordpress", "not-found", { status: 404 });
      return user;
    }
    const op: BatchOp = { op: "update", id, body: payload, ...guardOf(guard) };
    return writeUser(
      op,
      () => post(id, payload),
      (answer) => userOf(op, answer),
      op,
      guardChecked,
    );
  }

  async function reactivateWith(
    id: number,
    fields: WpWrite,
    guard: readonly string[] | undefined,
    guardChecked = false,
  ): Promise<WpUser> {
    const payload = await body(fields);
    const op: BatchOp = { op: "reactivate", id, body: payload, ...guardOf(guard) };
    const perUser = await body(fields, { [DEACTIVATED_META]: "" });
    return writeUser(
      op,
      () => post(id, perUser),
      (answer) => userOf(op, answer),
      { op: "update", id, body: perUser },
      guardChecked,
    );
  }

  function protectedError(what: string, why: string): UpstreamError {
    return new UpstreamError(`${what}: ${why}`, "wordpress", "invalid", { status: 403, code: PROTECTED_CODE });
  }

  /** A failed operation as the error its per-user request would have thrown. */
  function opError(op: BatchOp, { result, afterAmbiguousFailure }: BatchAnswer): UpstreamError {
    const path = `${writerRoute} (${op.op}${"id" in op ? ` ${op.id}` : ""})`;
    // The guard's refusal concerns this one user, not the service's credentials (a 403 otherwise means those).
    if (result.code === PROTECTED_CODE) return protectedError(`WordPress POST ${path}`, result.message ?? "protected");
    const ctx = { ...client.context, method: "POST", path };
    const error = classifyResponse(result.status, { code: result.code, message: result.message }, ctx);
    (error as UpstreamError & { afterAmbiguousFailure?: boolean }).afterAmbiguousFailure = afterAmbiguousFailure;
    return error;
  }

  function userOf(op: BatchOp, answer: BatchAnswer): WpUser {
    if (answer.result.outcome === "failed") throw opError(op, answer);
    return toWpUser(answer.result.user);
  }

  async function post(id: number, payload: Record<string, unknown>): Promise<WpUser> {
    const res = await sendAsService({
      method: "POST",
      route: `/wp/v2/users/${id}`,
      query: { context: "edit", _fields: USER_FIELDS },
      body: payload,
    });
    return toWpUser(res.body);
  }

  async function listPage(
    page: number,
    filter: Record<string, string> = {},
  ): Promise<{ users: WpUser[]; totalPages: number }> {
    try {
      const res = await client.request({
        method: "GET",
        route: "/wp/v2/users",
        // orderby=id: pages stay stable while users are added during a listing (new ids go last).
        query: {
          context: "edit",
          per_page: PER_PAGE,
          page,
          orderby: "id",
          order: "asc",
          _fields: USER_FIELDS,
          ...filter,
        },
      });
      const users = Array.isArray(res.body) ? res.body.map(toWpUser) : [];
      const totalPages = Number(res.headers.get("x-wp-totalpages") ?? "1");
      return { users, totalPages: Number.isFinite(totalPages) ? totalPages : 1 };
    } catch (error) {
      // Past the last page (e.g. users deleted meanwhile): WordPress answers 400 rest_invalid_page_number.
      if (error instanceof UpstreamError && error.details.code === "rest_invalid_page_number") {
        return { users: [], totalPages: page - 1 };
      }
      throw error;
    }
  }

  /** `search` is a case-insensitive substring match: page through hits, compare exactly. */
  async function searchExact(term: string, matches: (u: WpUser) => boolean): Promise<WpUser | null> {
    for (let page = 1; ; page++) {
      const { users, totalPages } = await listPage(page, { search: term });
      const hit = users.find(matches);
      if (hit) return hit;
      if (page >= totalPages) return null;
    }
  }

  async function getUser(id: number): Promise<WpUser | null> {
    try {
      const res = await client.request({
        method: "GET",
        route: `/wp/v2/users/${id}`,
        query: { context: "edit", _fields: USER_FIELDS },
      });
      return toWpUser(res.body);
    } catch (error) {
      if (error instanceof UpstreamError && error.kind === "not-found") return null;
      throw error;
    }
  }

  async function findUser(by: { email?: string; username?: string }): Promise<WpUser | null> {
    if (by.email) {
      const email = by.email.toLowerCase();
      const hit = await searchExact(by.email, (u) => u.email.toLowerCase() === email);
      if (hit) return hit;
    }
    if (by.username) {
      const login = by.username.toLowerCase();
      // WP_User_Query searches only user_email when the term contains "@", so a UPN-shaped login
      // would never be found by its full text: search its local part (login, e-mail, name columns).
      const at = by.username.indexOf("@");
      const term = at > 0 ? by.username.slice(0, at) : by.username;
      return searchExact(term, (u) => u.username.toLowerCase() === login);
    }
    return null;
  }

  const site: Site = {
    async info(): Promise<SiteInfo> {
      const [me, , p] = await Promise.all([
        client.request({ method: "GET", route: "/wp/v2/users/me", query: { context: "edit", _fields: "id" } }),
        // The engine lists and edits users: check that now rather than on the first write.
        client.request({
          method: "GET",
          route: "/wp/v2/users",
          query: { context: "edit", per_page: 1, _fields: "id" },
        }),
        plugin(),
        // Decides (and logs) how writes will travel now, at start-up, not on the first write.
        batchWriter(),
      ]);
      const selfId = Number((me.body as { id?: unknown }).id);
      if (p === null) {
        logger.info(
          `entra-wp-sync companion plugin not found on ${client.context.setting.url}: no entra_object_id matching, meta.* fields only for keys the site exposes over REST, and deactivated users can still log in`,
        );
      }
      return { selfId, companionPlugin: p !== null, roles: p?.roles ?? null };
    },

    listUsers: (page) => listPage(page),
    getUser,
    findUser,

    async findByEntraId(entraId) {
      if ((await plugin()) === null) return null;
      const { users } = await listPage(1, { [ENTRA_ID_META]: entraId });
      const id = entraId.toLowerCase();
      return users.find((u) => (u.meta[ENTRA_ID_META] ?? "").toLowerCase() === id) ?? null;
    },

    async createUser(username, write, entraId) {
      const payload = {
        ...(await body(write, { [ENTRA_ID_META]: entraId })),
        username,
        // Nobody logs in with it (single sign-on or a password reset does); 32 chars from 24 random bytes.
        password: randomBytes(24).toString("base64url"),
      };
      const op: BatchOp = { op: "create", body: payload };
      try {
        return await writeUser(
          op,
          async () => {
            const res = await sendAsService({
              method: "POST",
              route: "/wp/v2/users",
              query: { context: "edit", _fields: USER_FIELDS },
              body: payload,
            });
            return toWpUser(res.body);
          },
          (answer) => {
            // Our Entra id already has a user. After a lost response that is the one our first attempt
            // created; otherwise someone else's write got there first: "exists", so the engine adopts it.
            if (answer.result.outcome === "existing" && !answer.afterAmbiguousFailure) {
              throw new UpstreamError(`WordPress already has a user with Entra id ${entraId}`, "wordpress", "exists", {
                status: 409,
                code: "existing_entra_id",
              });
            }
            return userOf(op, answer);
          },
        );
      } catch (error) {
        // A first attempt that timed out may have created the user: the retry then says "exists".
        // If the existing user is the one we were creating, that is our user, not a collision.
        if (error instanceof UpstreamError && error.kind === "exists" && wasAfterAmbiguousFailure(error)) {
          const mine = await findUser({ username });
          const wantEmail = write.fields.email?.toLowerCase();
          if (
            mine &&
            ((mine.meta[ENTRA_ID_META] ?? "") === entraId ||
              (wantEmail !== undefined && mine.email.toLowerCase() === wantEmail))
          ) {
            logger.info({ id: mine.id }, "wordpress create was applied by an attempt that timed out; using that user");
            return mine;
          }
        }
        throw error;
      }
    },

    updateUser: (id, write, guard) => updateWith(id, write, guard),

    async deactivateUser(id, guard) {
      const p = await plugin();
      const op: BatchOp = { op: "deactivate", id, ...guardOf(guard) };
      const perUser = { roles: [], ...(p ? { meta: { [DEACTIVATED_META]: "1" } } : {}) };
      await writeUser(
        op,
        () => post(id, perUser),
        (answer) => userOf(op, answer),
        { op: "update", id, body: perUser },
      );
    },

    reactivateUser: (id, fields, guard) => reactivateWith(id, fields, guard),

    async writesAtOnce() {
      return (await batchWriter())?.atOnce ?? null;
    },

    async updateIfUnchanged(id, kind, assumption, write) {
      const expected = toRestBody({ fields: assumption.fields }, await acceptedMeta());
      // A field WordPress does not show over REST cannot be compared: the engine reads the user instead.
      if (expected.dropped.length > 0) return null;
      if (options.bulk === false || !(await plugin())?.batchExpect) {
        return updateCheckedByRead(id, kind, assumption, write);
      }
      const { roles } = assumption;
      const op: BatchOp = {
        op: kind,
        id,
        body: await body(write),
        expect: {
          fields: expected.body,
          ...("exactly" in roles ? { roles: roles.exactly } : { roles_none: roles.noneOf }),
        },
        guard: assumption.guard,
      };
      const read = (answer: BatchAnswer): ConditionalWrite | typeof REFUSED => {
        const { result } = answer;
        const before = result.before ? toWpUser(result.before) : null;
        // The guard is part of the assumption: refused, the user is planned again, as when "changed"
        // (from "before"; a plugin before 1.7.0 answers none with the refusal: then read first).
        if (result.code === PROTECTED_CODE) return before ? { applied: false, before } : REFUSED;
        if (result.outcome === "changed") return { applied: false, before };
        const user = userOf(op, answer);
        if (!before) throw new Error(`WordPress batch answered no prior state for user ${id}`);
        return { applied: true, before, user };
      };
      // Alone, the operation is a batch of one: the plugin is the only one that can check it.
      const answer = await writeUser(
        op,
        async () => {
          const { results, afterAmbiguousFailure } = await sendBatch([op]);
          if (!results[0]) throw new Error("WordPress batch answered no result for 1 operation");
          return read({ result: results[0], afterAmbiguousFailure });
        },
        read,
      );
      return answer === REFUSED ? { applied: false, before: await getUser(id) } : answer;
    },

    async deleteUser(id, reassignTo, guard) {
      const op: BatchOp = { op: "delete", id, reassign: reassignTo, ...guardOf(guard) };
      try {
        await writeUser(
          op,
          async () => {
            await client.request({
              method: "DELETE",
              route: `/wp/v2/users/${id}`,
              query: { force: true, reassign: reassignTo },
            });
          },
          (answer) => {
            if (answer.result.outcome === "failed") throw opError(op, answer);
          },
        );
      } catch (error) {
        // An attempt that timed out may have deleted it already.
        if (error instanceof UpstreamError && error.kind === "not-found" && wasAfterAmbiguousFailure(error)) return;
        throw error;
      }
    },

    async setAvatar(id, photo) {
      if (!(await plugin())) {
        warnOnce(
          "photos",
          `Photos are not synced: the entra-wp-sync companion plugin is not installed on ${client.context.setting.url}`,
        );
        return false;
      }
      const route = `/entra-wp-sync/v1/users/${id}/avatar`;
      if (photo === null) await client.request({ method: "DELETE", route });
      else await client.request({ method: "POST", route, body: { image: Buffer.from(photo).toString("base64") } });
      return true;
    },
  };
  return site;
}
