/** WordPress refuses logins longer than this (wp_insert_user: user_login_too_long, HTTP 500). */
export const WP_LOGIN_MAX_LENGTH = 60;

/** Letters remove_accents() spells out rather than strips (the rest lose their diacritics via NFD). */
const SPELLED: Record<string, string> = Object.fromEntries(
  "ß:ss æ:ae Æ:AE œ:oe Œ:OE ø:o Ø:O ł:l Ł:L đ:d Đ:D ð:d Ð:D þ:th Þ:TH ı:i ŀ:l Ŀ:L ŉ:n ĸ:k ſ:s"
    .split(" ")
    .map((pair) => pair.split(":")),
);

/**
 * A candidate login as WordPress' sanitize_user($login, true) would leave it, cut to 60 characters, so
 * the REST API accepts it: REST refuses any username that sanitize_user(strict) would change
 * (`jöhn` -> 400 rest_user_invalid_username). Steps as in wp-includes/formatting.php: strip tags,
 * remove accents, drop %XX octets and &entities;, keep only ASCII a-z A-Z 0-9, space, _ . - @,
 * trim, collapse whitespace. Guest UPNs lose their '#': `ann_contoso.com#EXT#@t.onmicrosoft.com`
 * -> `ann_contoso.comEXT@t.onmicrosoft.com`. Returns "" when nothing usable is left; case is kept
 * (WordPress compares logins case-insensitively).
 */
export function sanitizeLogin(candidate: string): string {
  let s = candidate.replace(/<[^>]*>/g, "");
  s = s.replace(/[^\x20-\x7e]/g, (ch) => SPELLED[ch] ?? ch.normalize("NFD").replace(/[\u0300-\u036f]/g, ""));
  s = s.replace(/%[a-fA-F0-9]{2}/g, "").replace(/&.+?;/g, "");
  s = s.replace(/[^a-zA-Z0-9 _.\-@]/g, "");
  s = s.trim().replace(/\s+/g, " ");
  return s.slice(0, WP_LOGIN_MAX_LENGTH).trim();
}
