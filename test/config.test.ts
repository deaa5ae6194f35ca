import { loadConfig, missingForSync, secretsOf } from "../src/config";
import { ConfigError } from "../src/core/errors";

describe("configuration", () => {
  it("starts with nothing set, using the documented defaults and the embedded database", () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.host).toBe("0.0.0.0");
    expect(config.databaseUrl).toBeNull();
    expect(config.stepBudgetMs).toBe(20000);
    expect(config.wordpress.concurrency).toBe(4);
    expect(config.wordpress).toMatchObject({ batchSize: 100, batchInFlight: 2 });
    expect(config.azure.graphBaseUrl).toBe("https://graph.microsoft.com");
    expect(config.publicUrl).toBe("http://localhost:3000");
  });

  it.each([
    ["PORT", "70000", /PORT must be an integer from 0 to 65535/],
    ["STEP_BUDGET_MS", "fast", /STEP_BUDGET_MS must be an integer/],
    ["WP_CONCURRENCY", "0", /WP_CONCURRENCY must be an integer from 1 to 64/],
    ["WP_BATCH_SIZE", "101", /WP_BATCH_SIZE must be an integer from 1 to 100/],
    ["WP_BATCH_IN_FLIGHT", "0", /WP_BATCH_IN_FLIGHT must be an integer from 1 to 16/],
    ["LOG_LEVEL", "loud", /LOG_LEVEL must be one of/],
    ["DATABASE_URL", "mysql://x", /DATABASE_URL must be a postgres/],
    ["GRAPH_BASE_URL", "http://127.0.0.1:8443", /GRAPH_BASE_URL must use https:/],
    ["AZURE_AUTHORITY_HOST", "not a url", /AZURE_AUTHORITY_HOST must be an absolute URL/],
    ["LINK_SIGNING_KEYS", "k1:short", /LINK_SIGNING_KEYS key "k1" must have a secret of at least 32/],
    ["LINK_SIGNING_KEYS", "nokid", /LINK_SIGNING_KEYS entry 1 must look like "kid:secret"/],
    ["ADMIN_TOKEN", "tooshort", /ADMIN_TOKEN must be at least 24 characters/],
    ["TRUST_PROXY", "maybe", /TRUST_PROXY must be false or a comma-separated list of the proxies' addresses/],
    ["TRUST_PROXY", "10.0.0.0/33", /TRUST_PROXY must be false or .* \(got "10.0.0.0\/33"\)/],
    ["TRUST_PROXY", "true", /TRUST_PROXY=true would trust every hop.*e\.g\. TRUST_PROXY=10\.0\.0\.2/],
    ["TRUST_PROXY", "2", /TRUST_PROXY=2: a hop count cannot tell a proxy from a client.*TRUST_PROXY=10\.0\.0\.2/],
    ["LINK_DEFAULT_TTL", "forever", /LINK_DEFAULT_TTL must be a duration from 60 seconds to 3650 days/],
    ["LINK_DEFAULT_TTL", "4000d", /LINK_DEFAULT_TTL must be a duration/],
    ["METRICS_TOKEN", "short", /METRICS_TOKEN must be at least 24 characters/],
    ["RATE_LIMIT_ADMIN_MAX", "0", /RATE_LIMIT_ADMIN_MAX must be an integer from 1/],
  ])("rejects %s=%s with a message that names the variable", (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });

  it("takes the proxies' addresses, CIDRs and proxy-addr's range names for TRUST_PROXY", () => {
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: "false" }).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: "10.0.0.2, 10.1.0.0/16,fd00::/8,loopback" }).trustProxy).toEqual([
      "10.0.0.2",
      "10.1.0.0/16",
      "fd00::/8",
      "loopback",
    ]);
  });

  it("gives links a default lifetime of 365 days, or LINK_DEFAULT_TTL", () => {
    expect(loadConfig({}).linkDefaultTtlSeconds).toBe(365 * 86_400);
    expect(loadConfig({ LINK_DEFAULT_TTL: "90d" }).linkDefaultTtlSeconds).toBe(90 * 86_400);
  });

  it("refuses both a client secret and a certificate, since only one credential can be used", () => {
    expect(() => loadConfig({ AZURE_CLIENT_SECRET: "x", AZURE_CLIENT_CERTIFICATE_PATH: "/c.pem" })).toThrow(
      /either AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH/,
    );
  });

  it("parses rotating signing keys with the first one signing", () => {
    const a = "a".repeat(32);
    const b = "b".repeat(40);
    const config = loadConfig({ LINK_SIGNING_KEYS: `new:${a}, old:${b}` });
    expect(config.linkSigningKeys).toEqual([
      { kid: "new", secret: a },
      { kid: "old", secret: b },
    ]);
  });

  it("names each setting a real sync still needs, and none once they are set", () => {
    expect(missingForSync(loadConfig({})).map((line) => line.split(" ")[0])).toEqual([
      "AZURE_TENANT_ID",
      "AZURE_CLIENT_ID",
      "AZURE_CLIENT_SECRET",
      "WP_URL",
      "WP_USERNAME",
      "WP_APP_PASSWORD",
    ]);
    const full = loadConfig({
      AZURE_TENANT_ID: "t",
      AZURE_CLIENT_ID: "c",
      AZURE_CLIENT_SECRET: "s",
      WP_URL: "http://127.0.0.1:8881",
      WP_USERNAME: "admin",
      WP_APP_PASSWORD: "p",
    });
    expect(missingForSync(full)).toEqual([]);
  });

  it("collects every configured secret for log scrubbing", () => {
    const config = loadConfig({
      ADMIN_TOKEN: "x".repeat(30),
      AZURE_CLIENT_SECRET: "graph-secret-value",
      WP_APP_PASSWORD: "wp app password",
      LINK_SIGNING_KEYS: `k:${"s".repeat(32)}`,
    });
    expect(secretsOf(config).sort()).toEqual(
      ["x".repeat(30), "graph-secret-value", "wp app password", "s".repeat(32)].sort(),
    );
  });
});
