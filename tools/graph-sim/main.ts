/**
 * Runs the Graph simulator for demos and benches:
 *   node dist/tools/graph-sim/main.js [--port 8443] [--users 5000] [--guests 50] [--disabled 20] [--groups 3] [--seed 1] [--tenants 1]
 * --tenants N serves N tenants of as many users each (the first as always, the others with apps and
 * domains of their own): their ids and secrets are printed as TENANT_<n>=<tenant id>,<client id>,<secret>.
 * Clients need NODE_EXTRA_CA_CERTS=.tmp/certs/ca.pem (bash scripts/make-test-certs.sh creates it).
 */
import { parseArgs } from "node:util";
import { makeTenant } from "./builder";
import { startGraphSimulator } from "./server";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "8443" },
      users: { type: "string", default: "1000" },
      guests: { type: "string", default: "10" },
      disabled: { type: "string", default: "10" },
      "without-mail": { type: "string", default: "5" },
      groups: { type: "string", default: "3" },
      seed: { type: "string", default: "1" },
      tenants: { type: "string", default: "1" },
      "cert-dir": { type: "string" },
    },
  });
  const tenantOf = (n: number) =>
    makeTenant({
      users: Number(values.users),
      guests: Number(values.guests),
      disabled: Number(values.disabled),
      withoutMail: Number(values["without-mail"]),
      groups: Number(values.groups),
      seed: Number(values.seed) + n - 1,
      ...(n > 1 ? { domain: `tenant${n}.onmicrosoft.com` } : {}),
    });
  const tenant = tenantOf(1);
  const sim = await startGraphSimulator({
    port: Number(values.port),
    tenant,
    ...(values["cert-dir"] ? { certDir: values["cert-dir"] } : {}),
  });
  const others = Array.from({ length: Number(values.tenants) - 1 }, (_, i) =>
    sim.addTenant({ tenant: tenantOf(i + 2) }),
  );
  const groups = [...tenant.groups.values()].map((g) => `${g.id} (${g.displayName})`);
  process.stdout.write(
    [
      `Graph simulator listening on ${sim.url} with ${tenant.userCount} users`,
      `AZURE_AUTHORITY_HOST=${sim.url}`,
      `AZURE_TENANT_ID=${sim.tenantId}`,
      `AZURE_CLIENT_ID=${sim.clientId}`,
      `AZURE_CLIENT_SECRET=${sim.clientSecret}`,
      `GRAPH_BASE_URL=${sim.url}`,
      ...others.map((other, i) => `TENANT_${i + 2}=${other.tenantId},${other.clientId},${other.clientSecret}`),
      `groups: ${groups.join(", ") || "none"}`,
      `faults: curl --cacert .tmp/certs/ca.pem -X POST ${sim.url}/__sim/faults -d '{"kind":"status","status":429,"retryAfter":1,"times":3}'`,
      "",
    ].join("\n"),
  );
  const stop = () => {
    sim.close().finally(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
