/**
 * The jobs file's named sites and sources: secrets read from the variables and files the entries
 * name, every mistake refused with one line naming the entry and the variable (or file), and no
 * secret ever repeated in a message. The environment's WP_* and AZURE_* are the entries "default".
 */
import { chmodSync, writeFileSync } from "node:fs";
import path from "node:path";
import { loadConfig } from "../../src/config";
import { ConfigError } from "../../src/core/errors";
import { storedConfig } from "../../src/db/jobs";
import { type Deployment, loadDeployment, loadJobs } from "../../src/sync/jobs";
import { makeTempDir } from "../helpers/leftovers";
import { configErrorOf as refusal } from "../helpers/refusal";

const CERT = path.resolve(__dirname, "../../.tmp/certs/client-cert.pem");
const INTRANET_PASSWORD = "abcd EFGH ijkl MNOP qrst UVWX";
const CORP_SECRET = "corp~Secret.Value_0123456789abcdefghij";

let dir: string;
beforeAll(() => {
  dir = makeTempDir("ews-sites-");
});

/** A jobs file with these sections in a folder of its own; the deployment loaded with `env` as the environment. */
function deploy(content: Record<string, unknown>, env: Record<string, string> = {}): Deployment {
  const file = path.join(dir, `jobs-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(content));
  return loadDeployment(loadConfig({ SYNC_JOBS_FILE: file, ...env }));
}

const intranet = { url: "https://intranet.example/", username: "sync", appPasswordEnv: "INTRANET_WP_APP_PASSWORD" };
const corp = { tenantId: "tenant-corp", clientId: "client-corp", clientSecretEnv: "CORP_AZURE_CLIENT_SECRET" };
const secrets = { INTRANET_WP_APP_PASSWORD: INTRANET_PASSWORD, CORP_AZURE_CLIENT_SECRET: CORP_SECRET };

describe("a jobs file with sites and sources", () => {
  it("reads each secret from the variable its entry names, and lets each job choose by name", () => {
    const deployment = deploy(
      {
        sites: { intranet },
        sources: { corp },
        jobs: [{ id: "staff", site: "intranet", source: { tenant: "corp" } }, { id: "legacy" }],
      },
      {
        ...secrets,
        WP_URL: "https://www.example",
        WP_USERNAME: "admin",
        WP_APP_PASSWORD: "env password",
        WP_CONCURRENCY: "6",
      },
    );
    expect(deployment.jobs.map((job) => [job.id, job.site, job.source.tenant])).toEqual([
      ["staff", "intranet", "corp"],
      ["legacy", "default", "default"],
    ]);
    expect(deployment.sites.map((site) => site.name)).toEqual(["default", "intranet"]);
    expect(deployment.sites[0]).toMatchObject({ url: "https://www.example", appPassword: "env password" });
    expect(deployment.sites[1]).toEqual({
      name: "intranet",
      url: "https://intranet.example",
      username: "sync",
      appPassword: INTRANET_PASSWORD,
      // Tuning a site does not set is the environment's.
      concurrency: 6,
      bulk: true,
      batchSize: 100,
      batchInFlight: 2,
      setting: {
        url: "sites.intranet.url",
        username: "sites.intranet.username",
        appPassword: "INTRANET_WP_APP_PASSWORD (sites.intranet.appPasswordEnv)",
      },
    });
    expect(deployment.sources[1]).toMatchObject({
      name: "corp",
      tenantId: "tenant-corp",
      clientId: "client-corp",
      clientSecret: CORP_SECRET,
      certificatePath: null,
      graphBaseUrl: "https://graph.microsoft.com",
    });
  });

  it("reads secrets from files (relative to the jobs file's folder) and takes a certificate by path", () => {
    writeFileSync(path.join(dir, "shop-password"), `${INTRANET_PASSWORD}\n`);
    const deployment = deploy(
      {
        sites: {
          shop: { url: "http://shop.example", username: "sync", appPasswordFile: "shop-password", concurrency: 2 },
        },
        sources: {
          partner: { tenantId: "t", clientId: "c", certificateFile: CERT, graphBaseUrl: "https://graph.example/" },
          other: { tenantId: "t2", clientId: "c2", certificatePathEnv: "OTHER_CERT_PATH" },
        },
        jobs: [{ id: "a", site: "shop", source: { tenant: "partner" } }],
      },
      { OTHER_CERT_PATH: CERT },
    );
    expect(deployment.sites[1]).toMatchObject({ appPassword: INTRANET_PASSWORD, concurrency: 2 });
    expect(deployment.sites[1]!.setting.appPassword).toBe(
      `the file ${path.join(dir, "shop-password")} (sites.shop.appPasswordFile)`,
    );
    expect(deployment.sources[1]).toMatchObject({
      clientSecret: null,
      certificatePath: CERT,
      graphBaseUrl: "https://graph.example",
    });
    expect(deployment.sources[2]).toMatchObject({ certificatePath: CERT });
  });

  it("refuses a variable that is not set, naming the entry and the variable", () => {
    const message = refusal(() => deploy({ sites: { intranet }, jobs: [{ id: "a", site: "intranet" }] }));
    expect(message).toMatch(
      /^SYNC_JOBS_FILE \(.+\): site "intranet": appPasswordEnv names INTRANET_WP_APP_PASSWORD, which is not set \(or is empty\)$/,
    );
    // Declared and unused is refused too: the entry would fail the day a job names it.
    expect(refusal(() => deploy({ sources: { corp }, jobs: [{ id: "a" }] }))).toMatch(
      /source "corp": clientSecretEnv names CORP_AZURE_CLIENT_SECRET, which is not set/,
    );
  });

  it("refuses a secret file that is missing, unreadable or empty, naming it", () => {
    const site = (file: string) => ({
      sites: { s: { ...intranet, appPasswordEnv: undefined, appPasswordFile: file } },
    });
    const missing = path.join(dir, "nope");
    expect(refusal(() => deploy({ ...site(missing), jobs: [{ id: "a" }] }))).toMatch(
      `site "s": appPasswordFile ${missing} cannot be read (no such file)`,
    );
    writeFileSync(path.join(dir, "empty"), "\n");
    expect(refusal(() => deploy({ ...site("empty"), jobs: [{ id: "a" }] }))).toMatch(
      `site "s": appPasswordFile ${path.join(dir, "empty")} is empty`,
    );
    if (process.getuid?.() !== 0) {
      const locked = path.join(dir, "locked");
      writeFileSync(locked, "secret");
      chmodSync(locked, 0o000);
      expect(refusal(() => deploy({ ...site(locked), jobs: [{ id: "a" }] }))).toMatch(
        "cannot be read (permission denied)",
      );
    }
    expect(
      refusal(() =>
        deploy({ sources: { c: { tenantId: "t", clientId: "c", certificateFile: missing } }, jobs: [{ id: "a" }] }),
      ),
    ).toMatch(`source "c": certificateFile ${missing} cannot be read (no such file)`);
    expect(
      refusal(() =>
        deploy(
          { sources: { c: { tenantId: "t", clientId: "c", certificatePathEnv: "C_CERT" } }, jobs: [{ id: "a" }] },
          { C_CERT: missing },
        ),
      ),
    ).toMatch(`source "c": certificatePathEnv names C_CERT, whose path ${missing} cannot be read (no such file)`);
  });

  it("wants exactly one credential per entry", () => {
    expect(
      refusal(() => deploy({ sites: { s: { url: "https://s.example", username: "u" } }, jobs: [{ id: "a" }] })),
    ).toMatch('site "s": names no Application Password: set one of appPasswordEnv, appPasswordFile');
    expect(
      refusal(() => deploy({ sources: { c: { ...corp, certificateFile: CERT } }, jobs: [{ id: "a" }] }, secrets)),
    ).toMatch('source "c": clientSecretEnv and certificateFile are both set');
  });

  it("refuses a secret written into the file, without repeating it", () => {
    const written = refusal(() =>
      deploy({
        sites: { s: { url: "https://s.example", username: "u", appPassword: INTRANET_PASSWORD } },
        jobs: [{ id: "a" }],
      }),
    );
    expect(written).toMatch(
      "sites.s.appPassword: secrets are never written in the jobs file; put it in an environment variable or a file and name that with appPasswordEnv or appPasswordFile",
    );
    expect(written).not.toContain(INTRANET_PASSWORD);
    // The secret itself where its variable's name belongs.
    for (const mistake of [INTRANET_PASSWORD, CORP_SECRET]) {
      const message = refusal(() =>
        deploy({ sources: { c: { ...corp, clientSecretEnv: mistake } }, jobs: [{ id: "a" }] }),
      );
      expect(message).toMatch("sources.c.clientSecretEnv must be the name of an environment variable");
      expect(message).not.toContain(mistake);
    }
  });

  it("keeps the name default for the environment's site and source", () => {
    expect(refusal(() => deploy({ sites: { default: intranet }, jobs: [{ id: "a" }] }, secrets))).toMatch(
      'sites.default: "default" is the site of WP_URL, WP_USERNAME and WP_APP_PASSWORD; give this one another name',
    );
    expect(refusal(() => deploy({ sources: { default: corp }, jobs: [{ id: "a" }] }, secrets))).toMatch(
      'sources.default: "default" is the source of the AZURE_* variables',
    );
  });

  it("refuses a job naming a site or a source that is not declared, with the names that are", () => {
    expect(refusal(() => deploy({ sites: { intranet }, jobs: [{ id: "a", site: "intra-net" }] }, secrets))).toMatch(
      'job "a": site "intra-net" is not declared in "sites" (did you mean intranet?) (declared: default, intranet)',
    );
    expect(refusal(() => deploy({ jobs: [{ id: "a", source: { tenant: "corp" } }] }))).toMatch(
      'job "a": source.tenant "corp" is not declared in "sources" (declared: default)',
    );
    expect(refusal(() => deploy({ jobs: [{ id: "a", site: "Intranet" }] }))).toMatch(
      'job "a": site must be a name such as "intranet"',
    );
  });

  it("gives the jobs reading a customer tenant its kind, and refuses a job saying the other", () => {
    const customers = { ...corp, tenantKind: "external" };
    const [job] = deploy(
      { sources: { customers }, jobs: [{ id: "shop", source: { tenant: "customers" } }] },
      secrets,
    ).jobs;
    // A customer tenant's rules hold: a login from the e-mail (its UPN is generated), matched without logins.
    expect(job!.source.tenantKind).toBe("external");
    expect(job!.username).toBe("email");
    expect(job!.match.by).toEqual(["entraId", "email"]);
    expect(
      refusal(() =>
        deploy(
          { sources: { customers }, jobs: [{ id: "shop", source: { tenant: "customers", tenantKind: "workforce" } }] },
          secrets,
        ),
      ),
    ).toMatch(
      'job "shop": source.tenantKind "workforce" contradicts its source "customers", which is "external" (sources.customers.tenantKind): leave it out',
    );
  });

  it("checks each entry's keys and values, naming the path", () => {
    expect(
      refusal(() => deploy({ sites: { intranet: { ...intranet, Concurrency: 2 } }, jobs: [{ id: "a" }] }, secrets)),
    ).toMatch("sites.intranet.Concurrency is not a known key (did you mean concurrency?)");
    expect(
      refusal(() => deploy({ sites: { intranet: { ...intranet, url: "ftp://x" } }, jobs: [{ id: "a" }] }, secrets)),
    ).toMatch("sites.intranet.url must be an absolute http:// or https:// URL");
    expect(refusal(() => deploy({ sites: { Intranet: intranet }, jobs: [{ id: "a" }] }, secrets))).toMatch(
      'sites.Intranet is not a site name (a-z, 0-9, "_" and "-", up to 63 characters)',
    );
    expect(
      refusal(() => deploy({ sources: { corp: { ...corp, tenantId: undefined } }, jobs: [{ id: "a" }] }, secrets)),
    ).toMatch("sources.corp.tenantId is required");
  });

  it("lists the jobs without reading secrets (the CLI needs only the job list)", () => {
    const file = path.join(dir, "cli-jobs.json");
    writeFileSync(file, JSON.stringify({ sites: { intranet }, jobs: [{ id: "a", site: "intranet" }] }));
    const config = loadConfig({ SYNC_JOBS_FILE: file });
    expect(loadJobs(config).map((job) => job.site)).toEqual(["intranet"]);
    expect(() => loadDeployment(config)).toThrow(ConfigError);
  });

  it("stores a job's site and tenant names in the database, never a secret", () => {
    const deployment = deploy(
      { sites: { intranet }, sources: { corp }, jobs: [{ id: "a", site: "intranet", source: { tenant: "corp" } }] },
      secrets,
    );
    const stored = JSON.stringify(storedConfig(deployment.jobs[0]!));
    expect(stored).toContain('"site":"intranet"');
    expect(stored).toContain('"tenant":"corp"');
    expect(stored).not.toContain(INTRANET_PASSWORD);
    expect(stored).not.toContain(CORP_SECRET);
  });
});
