import { buildUserIndex } from "../../src/sync/user-index";
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

    it("reports the plugin as absent", async () => {
      await expect(site.info()).resolves.toMatchObject({ companionPlugin: false });
    });

    it("creates and updates users without meta, and finds them by e-mail and login only", async () => {
      const login = uniqueName("plain");
      const entraId = uniqueName("entra");
      const created = await site.createUser(
        login,
        {
          fields: { email: `${login}@example.test`, first_name: "Ada", "meta.department": "Engines" },
          roles: ["author"],
        },
        entraId,
      );
      users.add(created.id);
      expect(created).toMatchObject({ username: login, first_name: "Ada", roles: ["author"] });
      expect(created.meta).toEqual({});
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
