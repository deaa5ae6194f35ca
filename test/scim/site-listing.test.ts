/**
 * A provider's writes arrive a few at a time, each applied by a run of its own: those runs share
 * one listing of the WordPress site (the match index) instead of listing every user of the site
 * again for each write. WordPress is reached through a proxy that records every request.
 */
import { startProxy } from "../helpers/wordpress-proxy";
import { startWordPress, type WordPressUnderTest } from "../replicas/setup";
import { entraUser, type ScimService, startScimService } from "./setup";

let wp: WordPressUnderTest;
let proxy: Awaited<ReturnType<typeof startProxy>>;
let s: ScimService;
beforeAll(async () => {
  wp = await startWordPress();
  proxy = await startProxy(wp.url);
  s = await startScimService({ ...wp, url: proxy.url });
});
afterAll(async () => {
  await s?.close();
  await proxy?.close();
  await wp?.close();
});

/** The first page of a listing of every user (not a lookup by Entra id): one per match index built. */
const listingsStarted = () =>
  proxy.requests.filter(
    (request) =>
      /^GET .*wp\/v2\/users\?/.test(request) && /[?&]page=1(&|$)/.test(request) && !request.includes("entra_object_id"),
  ).length;

describe("the runs that apply a SCIM job's writes", () => {
  it("list the WordPress site once between them, not once per write", async () => {
    const writes = 6;
    for (let n = 1; n <= writes; n++) expect((await s.scim("POST", "/Users", entraUser(s.domain, n))).status).toBe(201);
    expect(await wp.usersIn(s.domain)).toHaveLength(writes);
    const { body } = await s.admin("GET", "/v1/jobs/entra/runs?limit=50");
    expect(body.runs.filter((run: { trigger: string }) => run.trigger === "scim")).toHaveLength(writes);
    expect(listingsStarted()).toBe(1);
  });
});
