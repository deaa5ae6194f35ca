import { ConfigError } from "../../src/core/errors";
import { makeWordPressSite } from "../../src/wordpress";
import { classifyResponse } from "../../src/wordpress/errors";
import { quietLogger } from "../helpers/wordpress";

const ctx = { url: "https://wp.example", username: "sync-bot", method: "POST", path: "/wp-json/wp/v2/users" };

describe("WordPress error classification", () => {
  it.each([
    [500, "existing_user_login", "exists"],
    [500, "existing_user_email", "exists"],
    [500, "user_login_too_long", "invalid"],
    [400, "rest_user_invalid_role", "invalid"],
    [400, "rest_user_invalid_email", "invalid"],
    [400, "rest_invalid_param", "invalid"],
    [404, "rest_user_invalid_id", "not-found"],
    [401, "rest_not_logged_in", "auth"],
    [401, "rest_forbidden_context", "auth"],
    [403, "rest_cannot_create_user", "auth"],
    [403, "rest_user_cannot_delete", "auth"],
    // The plugin's guard refused one user it found privileged: that user's item fails, the run goes on.
    [403, "entra_wp_sync_protected", "invalid"],
    [404, "rest_no_route", "config"],
    [500, "internal_server_error", "transient"],
    [502, undefined, "transient"],
  ])("maps HTTP %i %s to kind %s", (status, code, kind) => {
    const error = classifyResponse(status, code ? { code, message: "m" } : null, ctx);
    expect(error).toMatchObject({ kind, source: "wordpress", details: { status, ...(code ? { code } : {}) } });
  });

  it("names WP_URL and WP_USERNAME in auth errors and says what to check", () => {
    const error = classifyResponse(401, { code: "rest_not_logged_in", message: "m" }, ctx);
    expect(error.message).toContain("WP_URL=https://wp.example");
    expect(error.message).toContain("WP_USERNAME=sync-bot");
    expect(error.message).toContain("Application Password");
  });
});

describe("WordPress site options", () => {
  it("refuses a WP_URL that is not a URL with a ConfigError naming WP_URL", () => {
    expect(() =>
      makeWordPressSite({ url: "wp.example", username: "u", appPassword: "p", logger: quietLogger }),
    ).toThrow(new ConfigError('WP_URL is not a URL: "wp.example" (expected e.g. https://example.com)'));
  });
});
