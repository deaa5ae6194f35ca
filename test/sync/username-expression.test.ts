/** A job whose username is an Entra SelectUniqueValue expression, through the engine. */
import type { Database } from "../../src/db/pool";
import { aGraphUser, aJob } from "../helpers/builders";
import { makeTestDatabase } from "../helpers/db";
import { FakeDirectory, makeHarness } from "../helpers/engine";

let db: Database;
beforeAll(async () => {
  db = await makeTestDatabase();
});
afterAll(async () => {
  await db.close();
});

it("gives two John Smiths of one page john.smith and j.smith, as SelectUniqueValue's rules say", async () => {
  const username = 'SelectUniqueValue(Join(".", [givenName], [surname]), Join(".", Left([givenName], 1), [surname]))';
  const job = aJob()
    .withUniqueId()
    .withPageSize(10)
    .withSafety(1, 1000)
    .withUsernameRule(username as never)
    .build();
  const directory = new FakeDirectory();
  for (const n of [1, 2]) directory.put(aGraphUser().numbered(n).withGivenName("John").withSurname("Smith").build());
  const h = makeHarness(db, { job, directory });
  expect(await h.sync()).toMatchObject({ state: "completed", counts: { created: 2 } });
  const logins = h.site
    .all()
    .map((u) => u.username)
    .filter((login) => login.endsWith("smith"));
  expect(logins.sort()).toEqual(["j.smith", "john.smith"]);
});
