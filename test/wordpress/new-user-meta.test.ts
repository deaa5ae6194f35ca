/**
 * The companion plugin's batch creates write a new user's default meta (nickname ... locale) in one
 * INSERT instead of update_user_meta() per key (plugin 9., includes/new-user-meta.php), only while no
 * other plugin has a callback on the meta write hooks. Checked on the real WordPress: the rows are
 * the ones WordPress's own path stores, the queries per create fewer (counted by the test site's
 * X-Entra-Test-Queries), and a callback of another plugin on any of those hooks (the test site's
 * X-Entra-Test-Meta-Hook stand-in) sends the create WordPress's way again.
 */
import {
  describeWithWordPress,
  phpOnWordPress,
  trackUsers,
  uniqueName,
  type WordPressTarget,
  wpFetch,
} from "../helpers/wordpress";

const BATCH = "/entra-wp-sync/v1/users/batch";

/**
 * Fewer queries per create the one INSERT saves at least: the 11 INSERTs it replaces, less itself
 * (measured: 32 on WordPress 6.1, 21 on 6.6); a fallback to WordPress's path saves none.
 */
const SAVED_PER_CREATE = 10;

/** The same person under another login, e-mail and Entra id: values that test the escaping. */
function aCreate(login: string) {
  return {
    op: "create",
    body: {
      username: login,
      email: `${login}@example.test`,
      password: `${login}-Pw-0123456789`,
      name: "Zoë O'Brien",
      first_name: `Zoë "Q" O'Brien \\ 1`,
      last_name: "Ünïcødé 😀 ✓",
      nickname: "Z\\'s <b>nick</b>",
      description: "Line one\nline two; DROP TABLE x; -- ' \" \\",
      locale: "en_US",
      roles: ["subscriber"],
      meta: { entra_object_id: `${login}-entra` },
    },
  };
}

interface Batched {
  ids: number[];
  queries: number;
  hookCalls: number | null;
}

async function createInBatch(wp: WordPressTarget, logins: string[], foreignHook?: string): Promise<Batched> {
  const res = await wpFetch(
    wp,
    "POST",
    BATCH,
    { operations: logins.map(aCreate) },
    undefined,
    foreignHook ? { "x-entra-test-meta-hook": foreignHook } : {},
  );
  expect(res.status).toBe(200);
  expect(res.body.results.map((r: { outcome: string }) => r.outcome)).toEqual(logins.map(() => "created"));
  const queries = res.headers.get("x-entra-test-queries");
  if (queries === null)
    throw new Error("restart the test WordPress with scripts/wordpress-local.sh: it lacks X-Entra-Test-Queries");
  const calls = res.headers.get("x-entra-test-meta-hook-calls");
  return {
    ids: res.body.results.map((r: { user: { id: number } }) => r.user.id),
    queries: Number(queries),
    hookCalls: calls === null ? null : Number(calls),
  };
}

/** Each user's meta rows as stored (key, value; in umeta_id order), its own login and Entra id masked. */
function metaRows(wp: WordPressTarget, ids: number[]): Array<Array<[string, string | null]>> {
  const out = phpOnWordPress(
    wp,
    `global $wpdb;
    $rows = array();
    foreach (json_decode(getenv('IDS')) as $id) {
      $login = get_userdata($id)->user_login;
      $rows[] = array_map(function ($row) use ($login) {
        return array($row[0], $row[1] === null ? null : str_replace($login, '<login>', $row[1]));
      }, $wpdb->get_results($wpdb->prepare("SELECT meta_key, meta_value FROM $wpdb->usermeta WHERE user_id = %d ORDER BY umeta_id", $id), ARRAY_N));
    }
    echo json_encode($rows);`,
    { IDS: JSON.stringify(ids) },
  );
  return JSON.parse(out);
}

describeWithWordPress(
  "WordPress batch creates: default meta in one INSERT (companion plugin)",
  (wp: WordPressTarget) => {
    const users = trackUsers(wp);
    afterAll(() => users.cleanup());

    it("stores the rows WordPress's own path stores, in its order, with at least 10 fewer queries per create", async () => {
      const logins = Array.from({ length: 4 }, () => uniqueName("meta-insert"));
      // The same two creates, in a batch of their own each: the one INSERT, then WordPress's path (a
      // callback of another plugin on added_user_meta, which fires once per row).
      const fast = await createInBatch(wp, logins.slice(0, 2));
      const slow = await createInBatch(wp, logins.slice(2), "added_user_meta");
      for (const id of [...fast.ids, ...slow.ids]) users.add(id);

      const [fastRows, , slowRows] = metaRows(wp, [...fast.ids, ...slow.ids]);
      expect(fastRows).toEqual(slowRows);
      // What was compared: the 11 default keys (the escaping-sensitive values intact), the role, the Entra id.
      expect(fastRows!.map(([key]) => key)).toEqual(
        expect.arrayContaining([
          "nickname",
          "first_name",
          "last_name",
          "description",
          "locale",
          "use_ssl",
          "entra_object_id",
        ]),
      );
      expect(Object.fromEntries(fastRows!)).toMatchObject({
        first_name: `Zoë "Q" O'Brien \\ 1`,
        nickname: "Z\\'s nick", // core's pre_user_nickname strips the tags
        use_ssl: "0",
        entra_object_id: "<login>-entra",
      });
      expect(slow.hookCalls).toBeGreaterThanOrEqual(2 * 11);
      expect((slow.queries - fast.queries) / 2).toBeGreaterThanOrEqual(SAVED_PER_CREATE);
    });

    it("writes the default meta WordPress's way when another plugin has a callback on any hook of that write", async () => {
      const baseline = await createInBatch(wp, [uniqueName("meta-hooks")]);
      users.add(baseline.ids[0]!);
      const hooks = [
        "add_user_metadata",
        "update_user_metadata",
        "get_user_metadata",
        "update_user_metadata_cache",
        "get_object_subtype_user",
        "add_user_meta",
        "added_user_meta",
        "update_user_meta",
        "updated_user_meta",
        "sanitize_user_meta_nickname",
        "sanitize_user_meta_locale_for_user",
        "all",
      ];
      for (const hook of hooks) {
        const created = await createInBatch(wp, [uniqueName("meta-hooks")], hook);
        users.add(created.ids[0]!);
        // The hook named beside the figure: a failure says which one the fast path ignored.
        expect([hook, created.queries - baseline.queries >= SAVED_PER_CREATE]).toEqual([hook, true]);
      }
    });
  },
);
