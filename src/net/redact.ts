/**
 * The one redactor of outbound URLs (webhooks above all). Masking the query and userinfo is not
 * enough: Slack and Teams put the secret in the path (https://hooks.slack.com/services/T0/B0/<secret>),
 * so only the origin is ever shown.
 */
export function redactUrl(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "[REDACTED]";
  }
  const rest = parsed.pathname !== "/" || parsed.search || parsed.hash || parsed.username || parsed.password;
  return `${parsed.protocol}//${parsed.host}${rest ? "/[REDACTED]" : "/"}`;
}

/** `text` (an error message) with every secret-bearing part of `url` masked. */
export function redactUrlIn(text: string, url: URL): string {
  let out = text;
  for (const secret of [url.href, url.pathname + url.search, url.search, url.password, url.username]) {
    if (secret && secret.length > 1 && secret !== "/") out = out.split(secret).join("[REDACTED]");
  }
  return out;
}
