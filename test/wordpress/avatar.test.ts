/**
 * Profile photos as avatars through the companion plugin, on the real WordPress: the avatar that
 * WordPress itself computes (REST avatar_urls, which goes through get_avatar_url and its filters)
 * is the stored photo, re-encoded so that only its pixels are kept; bad images are refused with a
 * clear error, and only who may edit other users sets one.
 */
import { UpstreamError } from "../../src/core/errors";
import { aJpeg, aPng, pngPixel } from "../helpers/images";
import {
  describeWithWordPress,
  makeTestSite,
  makeUserWithPassword,
  trackUsers,
  uniqueName,
  type WordPressTarget,
  wpFetch,
} from "../helpers/wordpress";

describeWithWordPress("WordPress avatars from profile photos (companion plugin)", (wp: WordPressTarget) => {
  const site = makeTestSite(wp);
  const users = trackUsers(wp);
  afterAll(() => users.cleanup());

  async function aUser(): Promise<number> {
    const login = uniqueName("avatar");
    const created = await site.createUser(login, { fields: { email: `${login}@example.test` } }, uniqueName("entra"));
    return users.add(created.id);
  }

  /** The 96px avatar URL WordPress computes for the user, and what fetching it gives. */
  async function avatarOf(id: number): Promise<{ url: string; bytes: Uint8Array | null }> {
    const user = await wpFetch(wp, "GET", `/wp/v2/users/${id}?context=edit`);
    const url: string = user.body.avatar_urls["96"];
    if (!url.startsWith(wp.url)) return { url, bytes: null };
    const res = await fetch(url);
    expect(res.status).toBe(200);
    return { url, bytes: new Uint8Array(await res.arrayBuffer()) };
  }

  it("serves the stored photo wherever WordPress shows the user's avatar, and the default once removed", async () => {
    const id = await aUser();
    expect((await avatarOf(id)).url).toMatch(/gravatar\.com/);

    const photo = aPng("first");
    await expect(site.setAvatar(id, photo)).resolves.toBe(true);
    const shown = await avatarOf(id);
    expect(shown.url).toMatch(new RegExp(`/wp-content/uploads/entra-wp-sync-avatars/${id}-[0-9a-f]{16}\\.png$`));
    expect(pngPixel(shown.bytes!)).toEqual(pngPixel(photo));

    // A new photo gets a new URL (no stale caches) and the old file is gone.
    const next = aPng("second");
    await site.setAvatar(id, next);
    const replaced = await avatarOf(id);
    expect(replaced.url).not.toBe(shown.url);
    expect(pngPixel(replaced.bytes!)).toEqual(pngPixel(next));
    // (Missing files get WordPress's canonical redirect, never the image.)
    expect((await fetch(shown.url, { redirect: "manual" })).status).not.toBe(200);

    await site.setAvatar(id, null);
    expect((await avatarOf(id)).url).toMatch(/gravatar\.com/);
    expect((await fetch(replaced.url, { redirect: "manual" })).status).not.toBe(200);
  });

  it("shows the avatar next to the user's comments, which WordPress renders through the same filter", async () => {
    const id = await aUser();
    const post = await wpFetch(wp, "POST", "/wp/v2/posts", { title: "avatars", status: "publish" });
    try {
      const comment = await wpFetch(wp, "POST", "/wp/v2/comments", {
        post: post.body.id,
        author: id,
        content: "hello",
        status: "approved",
      });
      expect(comment.status).toBe(201);
      await site.setAvatar(id, aJpeg("comment"));
      const { url } = await avatarOf(id);
      const shown = await wpFetch(wp, "GET", `/wp/v2/comments/${comment.body.id}`);
      expect(shown.body.author_avatar_urls["48"]).toBe(url);
    } finally {
      await wpFetch(wp, "DELETE", `/wp/v2/posts/${post.body.id}?force=true`);
    }
  });

  it("removes the photo file when the user is deleted", async () => {
    const id = await aUser();
    await site.setAvatar(id, aJpeg("deleted"));
    const { url } = await avatarOf(id);
    const me = await wpFetch(wp, "GET", "/wp/v2/users/me");
    expect((await wpFetch(wp, "DELETE", `/wp/v2/users/${id}?force=true&reassign=${me.body.id}`)).status).toBe(200);
    expect((await fetch(url, { redirect: "manual" })).status).not.toBe(200);
  });

  it("refuses what is not a JPEG or PNG, and what is too large, naming the problem", async () => {
    const id = await aUser();
    const notAnImage = new TextEncoder().encode("<?php echo 'x'; ?>");
    const refused = await site.setAvatar(id, notAnImage).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UpstreamError);
    expect((refused as UpstreamError).message).toMatch(/JPEG or PNG/);
    const huge = new Uint8Array(600 * 1024);
    huge.set(aJpeg("huge"));
    expect(((await site.setAvatar(id, huge).catch((e: unknown) => e)) as Error).message).toMatch(/larger than/);
    expect((await avatarOf(id)).url).toMatch(/gravatar\.com/);
  });

  /** POST of the avatar route with these credentials. */
  async function upload(id: number, image: Uint8Array, as?: { username: string; password: string }) {
    return wpFetch(
      wp,
      "POST",
      `/entra-wp-sync/v1/users/${id}/avatar`,
      { image: Buffer.from(image).toString("base64") },
      as,
    );
  }

  /** A user with its own Application Password, as an administrator makes one. */
  const withPassword = (role: string) => makeUserWithPassword(wp, users, role, "avatar");

  /** A real JPEG followed by PHP and script: getimagesize() takes it for a JPEG. */
  const polyglot = () =>
    Buffer.concat([
      Buffer.from(aJpeg("polyglot")),
      Buffer.from("<?php system($_GET['c']); ?><script>alert(1)</script>"),
    ]);

  it("stores only the pixels of an upload: a JPEG followed by PHP and script loses both, for an administrator too", async () => {
    const id = await aUser();
    const res = await upload(id, polyglot());
    expect(res.status).toBe(200);
    const { bytes } = await avatarOf(id);
    const stored = Buffer.from(bytes!);
    expect(stored.subarray(0, 2).equals(Buffer.from([0xff, 0xd8]))).toBe(true); // still a JPEG
    expect(stored.includes("<?php")).toBe(false);
    expect(stored.includes("<script")).toBe(false);
    expect(stored.includes("polyglot")).toBe(false); // the comment segment is not pixels either
  });

  it("refuses an upload by a user who may edit only their own account, a subscriber's polyglot for itself included", async () => {
    const subscriber = await withPassword("subscriber");
    const res = await upload(subscriber.id, polyglot(), subscriber);
    expect(res.status).toBe(403);
    expect((await avatarOf(subscriber.id)).url).toMatch(/gravatar\.com/);
    // Removing is the same right.
    const del = await wpFetch(wp, "DELETE", `/entra-wp-sync/v1/users/${subscriber.id}/avatar`, undefined, subscriber);
    expect(del.status).toBe(403);
  });

  it("lets only users who may edit the user set an avatar", async () => {
    const id = await aUser();
    const anonymous = await fetch(`${wp.url}/wp-json/entra-wp-sync/v1/users/${id}/avatar`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ image: Buffer.from(aJpeg("anon")).toString("base64") }),
    });
    expect(anonymous.status).toBe(401);
  });
});
