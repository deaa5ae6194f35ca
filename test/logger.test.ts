import { makeLogger, redactUrl } from "../src/logger";
import { logSink } from "./helpers/log-sink";

function captureLogger(secrets: string[] = []) {
  const sink = logSink();
  const logger = makeLogger({ level: "trace", secrets, destination: sink.destination });
  return { logger, output: sink.text };
}

describe("logging", () => {
  const clientSecret = "graph-client-secret-7f3a9c";
  const linkToken = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJzdGFmZiJ9.c2lnbmF0dXJl";

  it("never writes a configured secret, whatever field or message carries it", () => {
    const { logger, output } = captureLogger([clientSecret]);
    logger.info({ clientSecret }, "field");
    logger.info({ nested: { detail: `AADSTS7000215: Invalid client secret ${clientSecret}` } }, "library error");
    logger.error(new Error(`request failed with ${clientSecret}`));
    logger.warn(`message with ${clientSecret} inside`);
    expect(output()).not.toContain(clientSecret);
    expect(output()).toContain("[REDACTED]");
  });

  it("redacts the token of a link in any logged URL, in requests and in messages", () => {
    const { logger, output } = captureLogger();
    logger.info({ req: { method: "GET", url: `/v1/jobs/staff/continue?token=${linkToken}` } }, "incoming request");
    logger.info(`calling https://example.test/v1/jobs/staff/start?x=1&token=${linkToken}`);
    logger.info({ headers: { authorization: `Bearer ${linkToken}` } }, "headers");
    expect(output()).not.toContain(linkToken);
    expect(output()).toContain("token=[REDACTED]");
  });

  it("scrubs secrets generated after start-up once they are registered", () => {
    const { logger, output } = captureLogger();
    const generated = "generated-admin-token-abcdef123456";
    logger.secrets.add(generated);
    logger.child({ module: "x" }).info(`admin token is ${generated}`);
    expect(output()).not.toContain(generated);
  });

  it("leaves URLs without tokens untouched", () => {
    expect(redactUrl("/v1/runs/abc/items?action=create")).toBe("/v1/runs/abc/items?action=create");
    expect(redactUrl("/x?a=1&token=secret&b=2")).toBe("/x?a=1&token=[REDACTED]&b=2");
  });
});
