import pino from "pino";
import { buildUserIndex } from "../../src/sync/user-index";
import { logSink } from "../helpers/log-sink";
import {
  describeWithWordPress,
  makeTestSite,
  trackUsers,
  uniqueName,
  type WordPressTarget,
} from "../helpers/wordpress";

// A second WordPress without the companion plugin:
//   eval "$(scripts/wordpress-local.sh --without-plugin --port 8882 --dir /tmp/entra-wp-sync-wordpress-plain --env-prefix WP_PLAIN_)"
describeWithWordPress(
  "WordPress site without the companion plugin",
  (wp: WordPressTarget) => {
    const site = makeTestSite(wp);
    const users = trackUsers(wp);
    afterAll(() => users.cleanup());

    it("reports the plugin as absent, and writes that travel one by one", async () => {
      await expect(site.info()).resolves.toMatchObject({ companionPlugin: false });
      await expect(site.writesAtOnce!()).resolves.toBeNull();
    });

    it("writes the meta keys the site exposes over REST, warns once per key it does not, and finds users by e-mail and login only", async () => {
      // The test site registers "department" for REST (scripts/wordpress-local.sh --without-plugin), as another plugin may.
      const sink = logSink();
      const logged = makeTestSite(wp, { logger: pino({ level: "warn" }, sink.destination) });
      const login = uniqueName("plain");
      const entraId = uniqueName("entra");
      const write = {
        fields: {
          email: `${login}@example.test`,
          first_name: "Ada",
          "meta.department": "Engines",
          "meta.job_title": "Analyst",
        },
        roles: ["author"],
      };
      const created = await logged.createUser(login, write, entraId);
      users.add(created.id);
      expect(created).toMatchObject({ username: login, first_name: "Ada", roles: ["author"] });
      expect(created.meta).toEqual({ department: "Engines" });
      await expect(
        logged.updateUser(created.id, { fields: { "meta.department": "Looms", "meta.job_title": "Lead" } }),
      ).resolves.toMatchObject({ meta: { department: "Looms" } });
      const warnings = sink.lines.filter((line) => line.includes("job_title"));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(
        `does not accept the user meta key \\"job_title\\" over REST, so meta.job_title is not written: register it (register_meta('user', 'job_title'`,
      );
      expect(sink.text()).not.toContain("department");
      await expect(site.findByEntraId(entraId)).resolves.toBeNull();
      await expect(site.findUser({ email: `${login}@EXAMPLE.TEST` })).resolves.toMatchObject({ id: created.id });
      const index = await buildUserIndex(site);
      expect(index.byLogin(login)?.id).toBe(created.id);
      expect(index.byEntraId(entraId)).toBeNull();
    });

    it("deactivates by removing the roles and reactivates by setting them", async () => {
      const login = uniqueName("plain-deact");
      const { id } = await site.createUser(
        login,
        { fields: { email: `${login}@example.test` }, roles: ["editor"] },
        "x",
      );
      users.add(id);
      await site.deactivateUser(id);
      await expect(site.getUser(id)).resolves.toMatchObject({ roles: [] });
      await expect(site.reactivateUser(id, { fields: {}, roles: ["editor"] })).resolves.toMatchObject({
        roles: ["editor"],
      });
    });
  },
  {
    prefix: "WP_PLAIN_",
    howToStart:
      'eval "$(scripts/wordpress-local.sh --without-plugin --port 8882 --dir /tmp/entra-wp-sync-wordpress-plain --env-prefix WP_PLAIN_)"',
  },
);
