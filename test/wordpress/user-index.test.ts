import type { WpUser } from "../../src/core/users";
import type { Site } from "../../src/sync/ports";
import { buildUserIndex } from "../../src/sync/user-index";
import {
  describeWithWordPress,
  makeTestSite,
  trackUsers,
  uniqueName,
  type WordPressTarget,
} from "../helpers/wordpress";

describeWithWordPress("WordPress user index", (wp: WordPressTarget) => {
  const site = makeTestSite(wp);
  const users = trackUsers(wp);
  afterAll(() => users.cleanup());

  it("finds every user by e-mail, login and Entra id, whatever the case", async () => {
    const made = await Promise.all(
      [1, 2, 3].map(async () => {
        const login = uniqueName("Index.User");
        const entraId = uniqueName("Entra");
        const user = await site.createUser(login, { fields: { email: `${login}@Example.test` } }, entraId);
        users.add(user.id);
        return { user, login, entraId };
      }),
    );
    const index = await buildUserIndex(site);
    expect(index.size).toBeGreaterThanOrEqual(4);
    for (const { user, login, entraId } of made) {
      expect(index.byEmail(`${login}@example.TEST`.toUpperCase())?.id).toBe(user.id);
      expect(index.byLogin(login.toLowerCase())).toEqual({ id: user.id, username: user.username, email: user.email });
      expect(index.byEntraId(entraId.toUpperCase())?.id).toBe(user.id);
    }
    expect(index.byEmail(`x${made[0]!.login}@example.test`)).toBeNull();
  });
});

describe("user index paging", () => {
  it("reads every page once, in order, and keeps the first user for a duplicate key", async () => {
    const pages = [1, 2, 3, 4, 5, 6, 7].map((page) =>
      Array.from({ length: 3 }, (_, i): WpUser => aUser(page * 10 + i, page === 7 && i === 2 ? "dup@x" : undefined)),
    );
    pages[0]![0] = aUser(10, "dup@x");
    const requested: number[] = [];
    const site = {
      listUsers: async (page: number) => {
        requested.push(page);
        await new Promise((r) => setTimeout(r, (8 - page) * 2)); // later pages answer first
        return { users: pages[page - 1] ?? [], totalPages: pages.length };
      },
    } as unknown as Site;
    const index = await buildUserIndex(site);
    expect(index.size).toBe(21);
    expect([...requested].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(index.byEmail("DUP@X")?.id).toBe(10);
    expect(index.byLogin("user72")?.id).toBe(72);
  });

  it("learns the users a run creates, so their logins and e-mails count as taken", async () => {
    const site = { listUsers: async () => ({ users: [aUser(1)], totalPages: 1 }) } as unknown as Site;
    const index = await buildUserIndex(site);
    expect(index.byLogin("user2")).toBeNull();
    index.add(aUser(2));
    expect(index.size).toBe(2);
    expect(index.byLogin("USER2")?.id).toBe(2);
    expect(index.byEmail("user2@example.test")?.id).toBe(2);
  });
});

function aUser(id: number, email = `user${id}@example.test`): WpUser {
  return {
    id,
    username: `user${id}`,
    email,
    name: "",
    first_name: "",
    last_name: "",
    nickname: "",
    description: "",
    url: "",
    roles: ["subscriber"],
    capabilities: ["read", "level_0", "subscriber"],
    meta: { entra_object_id: `e-${id}` },
  };
}
