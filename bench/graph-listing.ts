/**
 * Lists 100,000 simulated users at $top=999 through makeGraphDirectory (real credential and
 * client classes, HTTPS) and prints throughput and peak RSS. Simulator and client share the
 * process, so the RSS is an upper bound for the client alone.
 *   npm run build && NODE_EXTRA_CA_CERTS=.tmp/certs/ca.pem node dist/bench/graph-listing.js [users]
 */
import pino from "pino";
import { makeGraphDirectory } from "../src/graph";
import { aTenant, startGraphSimulator } from "../tools/graph-sim";

async function main(): Promise<void> {
  const userCount = Number(process.argv[2] ?? 100_000);
  const sim = await startGraphSimulator({
    tenant: aTenant().withUsers(userCount).withGuests(1000).withDisabled(500).withoutMail(200).build(),
  });
  const directory = makeGraphDirectory({
    tenantId: sim.tenantId,
    clientId: sim.clientId,
    clientSecret: sim.clientSecret,
    authorityHost: sim.url,
    graphBaseUrl: sim.url,
    logger: pino({ level: "silent" }),
  });
  const query = {
    mode: "full" as const,
    filter: null,
    pageSize: 999,
    select: [
      "id",
      "userPrincipalName",
      "mail",
      "givenName",
      "surname",
      "displayName",
      "department",
      "accountEnabled",
      "userType",
    ],
  };
  const started = performance.now();
  let cursor: string | null = null;
  let pages = 0;
  let users = 0;
  do {
    const page: Awaited<ReturnType<typeof directory.fetchUsersPage>> = await directory.fetchUsersPage(query, cursor, {
      deadline: Date.now() + 60_000,
    });
    pages++;
    users += page.users.length + page.removed.length;
    cursor = page.nextLink;
  } while (cursor);
  const seconds = (performance.now() - started) / 1000;
  await sim.close();
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(
    [
      `graph-listing: ${users} users in ${pages} pages (${sim.counters.users} /users requests) in ${seconds.toFixed(2)} s`,
      `  ${(pages / seconds).toFixed(1)} pages/s, ${Math.round(users / seconds)} users/s`,
      `  peak RSS ${peakRssMb.toFixed(0)} MB (simulator and client in one process)`,
      "",
    ].join("\n"),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
