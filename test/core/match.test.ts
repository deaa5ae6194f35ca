import { desiredFields } from "../../src/core/mapping";
import { type MatchIndex, matchUser } from "../../src/core/match";
import type { WpUser } from "../../src/core/users";
import { aGraphUser, aJob, aWpUser } from "../helpers/builders";

/** A case-insensitive index over a few users, as the WordPress side builds one. */
function indexOf(users: WpUser[], withEntraId = true): MatchIndex {
  const find = (pick: (u: WpUser) => string | undefined) => (key: string) =>
    users.find((u) => pick(u)?.toLowerCase() === key.toLowerCase());
  const index: MatchIndex = { byEmail: find((u) => u.email), byLogin: find((u) => u.username) };
  if (withEntraId) index.byEntraId = find((u) => u.meta.entra_object_id);
  return index;
}

describe("matchUser", () => {
  const user = aGraphUser().withId("e-1").withMail("Ann.Lee@contoso.com").withUpn("ann.lee@contoso.com").build();
  const byId = aWpUser()
    .withId(1)
    .withEmail("other@x.test")
    .withUsername("x")
    .withMeta("entra_object_id", "e-1")
    .build();
  const byMail = aWpUser().withId(2).withEmail("ann.lee@CONTOSO.com").withUsername("y").build();
  const byLogin = aWpUser().withId(3).withEmail("z@x.test").withUsername("Ann.Lee@contoso.com").build();

  it("tries the job's keys in order and the first hit wins", () => {
    const index = indexOf([byId, byMail, byLogin]);
    const job = aJob().build();
    expect(matchUser(job, user, desiredFields(job, user), index)?.account.id).toBe(1);
    const byEmailFirst = aJob().withMatch("email", "entraId").build();
    expect(matchUser(byEmailFirst, user, desiredFields(byEmailFirst, user), index)?.account.id).toBe(2);
    const byUsernameFirst = aJob().withMatch("username", "email").build();
    expect(matchUser(byUsernameFirst, user, desiredFields(byUsernameFirst, user), index)?.account.id).toBe(3);
  });

  it("skips entraId when the index cannot look ids up (no companion plugin)", () => {
    const job = aJob().build();
    expect(matchUser(job, user, desiredFields(job, user), indexOf([byId, byMail], false))?.account.id).toBe(2);
  });

  it("matches by the mapped e-mail before Graph's mail", () => {
    const job = aJob().withMatch("email").withField("email", "otherMail|mail").build();
    const other = aGraphUser().with("otherMail", "z@x.test").build();
    expect(matchUser(job, other, desiredFields(job, other), indexOf([byMail, byLogin]))?.account.id).toBe(3);
  });

  it("falls back to Graph's mail and then a UPN that looks like an e-mail", () => {
    const job = aJob().withMatch("email").withField("email", "otherMail").build();
    const mailOnly = aGraphUser().withMail("z@x.test").build();
    expect(matchUser(job, mailOnly, {}, indexOf([byLogin]))?.account.id).toBe(3);
    const upnOnly = aGraphUser().withMail(null).withUpn("ann.lee@contoso.com").build();
    expect(matchUser(job, upnOnly, {}, indexOf([byMail]))?.account.id).toBe(2);
  });

  it("does not try a UPN that is not an e-mail address", () => {
    const job = aJob().withMatch("email").build();
    const odd = aGraphUser().withMail(null).withUpn("ann").build();
    const wp = aWpUser().withEmail("ann").build();
    expect(matchUser(job, odd, {}, indexOf([wp]))).toBeNull();
  });

  it("matches by the username candidate, sanitised as on create", () => {
    const job = aJob().withMatch("username").withUsernameRule("upnPrefix").build();
    const zoe = aGraphUser().withUpn("Zoë@contoso.com").build();
    const wp = aWpUser().withId(9).withUsername("ZOE").build();
    expect(matchUser(job, zoe, desiredFields(job, zoe), indexOf([wp]))?.account.id).toBe(9);
  });

  it("returns null when nothing matches, also with an index that answers null", () => {
    const job = aJob().build();
    const nulls: MatchIndex = { byEmail: () => null, byLogin: () => null, byEntraId: () => null };
    expect(matchUser(job, user, desiredFields(job, user), nulls)).toBeNull();
    expect(matchUser(job, user, desiredFields(job, user), indexOf([]))).toBeNull();
  });
});
