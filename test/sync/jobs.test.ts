import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Job } from "../../src/core/job";
import { JOB_DEFAULTS, loadJobs, parseJobsFile, SYNC_ENV_DEFAULTS, SYNC_VARIABLES } from "../../src/sync/jobs";
import { TEST_WEBHOOK_SECRET } from "../helpers/builders";
import { configErrorOf as errorOf } from "../helpers/refusal";

const LOCAL_URL = "http://localhost:3000";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "jobs-test-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fileWith(content: string): string {
  const file = path.join(dir, `jobs-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, content);
  return file;
}

/** One job in a file-shaped object, for parseJobsFile. */
const oneJob = (job: Record<string, unknown>) => ({ jobs: [{ id: "staff", ...job }] });
const parseOne = (job: Record<string, unknown>): Job => parseJobsFile(oneJob(job))[0]!;
const fromEnv = (syncEnv: Record<string, string>): Job[] => loadJobs({ jobsFile: null, syncEnv, publicUrl: LOCAL_URL });

describe("loadJobs without a jobs file", () => {
  it("builds one job named default with the documented defaults", () => {
    expect(fromEnv({})).toEqual([{ id: "default", ...JOB_DEFAULTS }]);
  });

  it("reads every SYNC_* variable", () => {
    const [job] = fromEnv({
      SYNC_TRIGGER_MODE: "schedule",
      SYNC_SCHEDULE: "0 3 * * *",
      SYNC_TIMEZONE: "Europe/Berlin",
      SYNC_SOURCE_MODE: "full",
      SYNC_FILTER: "accountEnabled eq true",
      SYNC_GROUPS: "g-1, g-2",
      SYNC_PAGE_SIZE: "999",
      SYNC_ATTRIBUTES: "department,employeeId",
      SYNC_MATCH: "email,username",
      SYNC_MATCH_EMAIL_DOMAINS: "Contoso.com, fabrikam.com",
      SYNC_ADOPT_GUESTS: "true",
      SYNC_USERNAME: "upnPrefix",
      SYNC_FIELDS: '{"email":"mail","meta.department":"department"}',
      SYNC_ROLE_MODE: "add",
      SYNC_DEFAULT_ROLE: "reader",
      SYNC_ROLE_GROUPS: "g-1=editor, g-2=author",
      SYNC_ALLOW_PRIVILEGED_ROLES: "yes",
      SYNC_CREATE: "false",
      SYNC_UPDATE: "no",
      SYNC_MISSING: "delete",
      SYNC_REASSIGN_TO: "1",
      SYNC_PROTECT_ROLES: "administrator,shop_manager",
      SYNC_PROTECT_USERS: "1, 2",
      SYNC_MAX_DELETE_FRACTION: "0.25",
      SYNC_MAX_DELETE_COUNT: "0",
      SYNC_WEBHOOK_URL: "https://hooks.example.test/sync",
      SYNC_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
      SYNC_PHOTOS: "true",
    });
    expect(job).toEqual({
      id: "default",
      site: "default",
      trigger: { mode: "schedule", schedule: "0 3 * * *", timezone: "Europe/Berlin" },
      source: {
        kind: "graph",
        tenant: "default",
        mode: "full",
        filter: "accountEnabled eq true",
        groups: ["g-1", "g-2"],
        pageSize: 999,
        attributes: ["department", "employeeId"],
        tenantKind: "workforce",
        notifications: false,
        scopingFilters: [],
      },
      match: {
        by: ["email", "username"],
        emailDomains: ["contoso.com", "fabrikam.com"],
        adoptGuests: true,
        adoptUnverifiedEmails: false,
      },
      username: "upnPrefix",
      fields: { email: "mail", "meta.department": "department" },
      roles: {
        mode: "add",
        default: "reader",
        groups: [
          { group: "g-1", role: "editor" },
          { group: "g-2", role: "author" },
        ],
        allowPrivileged: true,
      },
      actions: { create: false, update: false, missing: "delete", reassignTo: 1 },
      protect: { roles: ["administrator", "shop_manager"], users: [1, 2] },
      safety: { maxDeleteFraction: 0.25, maxDeleteCount: 0 },
      webhook: "https://hooks.example.test/sync",
      network: null,
      webhookSecret: TEST_WEBHOOK_SECRET,
      photos: true,
      dryRun: false,
    });
  });

  it("treats empty variables as unset", () => {
    expect(fromEnv({ SYNC_PAGE_SIZE: "", SYNC_GROUPS: "  " })).toEqual([{ id: "default", ...JOB_DEFAULTS }]);
  });

  it("names the variable, the job and the field in validation errors", () => {
    expect(errorOf(() => fromEnv({ SYNC_PAGE_SIZE: "1000" }))).toBe(
      'job "default" (SYNC_PAGE_SIZE): source.pageSize must be an integer from 1 to 999 (got 1000)',
    );
    expect(errorOf(() => fromEnv({ SYNC_PAGE_SIZE: "lots" }))).toContain('(got "lots")');
    expect(errorOf(() => fromEnv({ SYNC_CREATE: "maybe" }))).toBe(
      'job "default" (SYNC_CREATE): actions.create must be true or false (got "maybe")',
    );
    expect(errorOf(() => fromEnv({ SYNC_FIELDS: '{"mail":"mail"}' }))).toContain("(SYNC_FIELDS): fields.mail");
    expect(errorOf(() => fromEnv({ SYNC_MISSING: "delete" }))).toContain("(SYNC_REASSIGN_TO): actions.reassignTo");
    expect(errorOf(() => fromEnv({ SYNC_PROTECT_USERS: "1,x" }))).toContain("(SYNC_PROTECT_USERS): protect.users[1]");
  });

  it("rejects SYNC_FIELDS that is not JSON", () => {
    expect(errorOf(() => fromEnv({ SYNC_FIELDS: "email=mail" }))).toMatch(/^SYNC_FIELDS must be a JSON object/);
  });

  it("rejects a SYNC_ROLE_GROUPS entry without group=role", () => {
    expect(errorOf(() => fromEnv({ SYNC_ROLE_GROUPS: "g-1=editor,g-2" }))).toBe(
      'SYNC_ROLE_GROUPS entry 2 must look like "groupId=role" (got "g-2")',
    );
  });

  it("rejects an unknown SYNC_* variable and suggests the one meant", () => {
    expect(errorOf(() => fromEnv({ SYNC_PAGESIZE: "100" }))).toMatch(
      /^SYNC_PAGESIZE is not a known variable \(did you mean SYNC_PAGE_SIZE\?\)/,
    );
  });
});

describe("SYNC_ENV_DEFAULTS", () => {
  it("lists every variable with the default the loader applies", () => {
    expect(Object.keys(SYNC_ENV_DEFAULTS)).toEqual(Object.keys(SYNC_VARIABLES));
    expect(fromEnv({ ...SYNC_ENV_DEFAULTS })).toEqual(fromEnv({}));
  });
});

describe("loadJobs with a jobs file", () => {
  it("reads the jobs and fills in defaults", () => {
    const file = fileWith(JSON.stringify({ jobs: [{ id: "staff" }, { id: "guests", source: { pageSize: 100 } }] }));
    const jobs = loadJobs({ jobsFile: file, syncEnv: {}, publicUrl: LOCAL_URL });
    expect(jobs.map((job) => job.id)).toEqual(["staff", "guests"]);
    expect(jobs[0]).toEqual({ id: "staff", ...JOB_DEFAULTS });
    expect(jobs[1]!.source).toEqual({ ...JOB_DEFAULTS.source, pageSize: 100 });
  });

  it("accepts the example of the design document", () => {
    const job = parseOne({
      trigger: { mode: "link-start-continue", schedule: "0 3 * * *", timezone: "UTC" },
      source: { mode: "full", filter: "accountEnabled eq true", groups: [], pageSize: 500, attributes: ["department"] },
      match: ["entraId", "email", "username"],
      username: "upn",
      fields: {
        first_name: "givenName",
        last_name: "surname",
        name: "displayName",
        email: "mail|userPrincipalName",
        "meta.department": "department",
      },
      roles: { mode: "replace", default: "subscriber", groups: [{ group: "g-1", role: "editor" }] },
      actions: { create: true, update: true, missing: "deactivate", reassignTo: 1 },
      protect: { roles: ["administrator"], users: [] },
      safety: { maxDeleteFraction: 0.1, maxDeleteCount: 100 },
    });
    expect(job.source.attributes).toEqual(["department"]);
    expect(job.actions.reassignTo).toBe(1);
  });

  it("names SYNC_JOBS_FILE and the path when the file is missing", () => {
    const file = path.join(dir, "nope.json");
    expect(errorOf(() => loadJobs({ jobsFile: file, syncEnv: {}, publicUrl: LOCAL_URL }))).toBe(
      `SYNC_JOBS_FILE: cannot read ${file} (no such file)`,
    );
  });

  it("names SYNC_JOBS_FILE and the path when the file is not JSON", () => {
    const file = fileWith("jobs:\n  - id: staff\n");
    expect(errorOf(() => loadJobs({ jobsFile: file, syncEnv: {}, publicUrl: LOCAL_URL }))).toMatch(
      new RegExp(`^SYNC_JOBS_FILE: ${file.replace(/[.\\]/g, "\\$&")} is not valid JSON`),
    );
  });

  it("refuses SYNC_* variables that the file would silently override", () => {
    const file = fileWith(JSON.stringify(oneJob({})));
    expect(
      errorOf(() => loadJobs({ jobsFile: file, syncEnv: { SYNC_PAGE_SIZE: "100" }, publicUrl: LOCAL_URL })),
    ).toMatch(/^SYNC_PAGE_SIZE is set but SYNC_JOBS_FILE is used/);
  });

  it("requires a non-empty jobs array and nothing else at the top", () => {
    expect(errorOf(() => parseJobsFile([]))).toContain('must hold a JSON object like { "jobs": [...] }');
    expect(errorOf(() => parseJobsFile({ jobs: [] }))).toContain('"jobs" must be a non-empty array');
    expect(errorOf(() => parseJobsFile({ jobs: [{ id: "a" }], job: [] }))).toContain('unknown key "job"');
  });
});

describe("job validation", () => {
  describe("ids", () => {
    it.each([["Staff"], ["-staff"], ["st aff"], ["a".repeat(64)], [""], [7]])("rejects %j", (id) => {
      expect(errorOf(() => parseJobsFile({ jobs: [{ id }] }))).toContain("job 1: id must match");
    });

    it("accepts lower-case letters, digits, _ and - up to 63 characters", () => {
      expect(parseJobsFile({ jobs: [{ id: "a" }, { id: `s${"_-9".repeat(20)}ab` }] })).toHaveLength(2);
    });

    it("rejects a missing id with the job's position", () => {
      expect(errorOf(() => parseJobsFile({ jobs: [{ id: "a" }, {}] }))).toContain("job 2: id must match");
    });

    it("rejects duplicate ids", () => {
      expect(errorOf(() => parseJobsFile({ jobs: [{ id: "a" }, { id: "a" }] }))).toContain('job "a" is declared twice');
    });
  });

  describe("unknown keys", () => {
    it("are rejected with their path and a suggestion", () => {
      expect(errorOf(() => parseOne({ source: { pagesize: 10 } }))).toBe(
        'job "staff": source.pagesize is not a known key (did you mean pageSize?) (expected one of: kind, tenant, mode, filter, groups, pageSize, attributes, tenantKind, notifications, scopingFilters)',
      );
      expect(errorOf(() => parseOne({ trigers: {} }))).toMatch(/^job "staff": trigers is not a known key/);
      expect(errorOf(() => parseOne({ roles: { groups: [{ group: "g", role: "r", rank: 1 }] } }))).toContain(
        "roles.groups[0].rank is not a known key",
      );
    });
  });

  describe("trigger", () => {
    it("requires a cron schedule in schedule mode", () => {
      expect(errorOf(() => parseOne({ trigger: { mode: "schedule" } }))).toContain(
        'trigger.schedule is required when trigger.mode is "schedule"',
      );
    });

    it("accepts 5- and 6-field cron expressions in a time zone", () => {
      const five = parseOne({ trigger: { mode: "schedule", schedule: "0 3 * * 1-5", timezone: "Europe/Berlin" } });
      expect(five.trigger).toEqual({ mode: "schedule", schedule: "0 3 * * 1-5", timezone: "Europe/Berlin" });
      expect(parseOne({ trigger: { mode: "schedule", schedule: "*/30 * * * * *" } }).trigger.schedule).toBe(
        "*/30 * * * * *",
      );
    });

    it.each([["every day"], ["61 * * * *"], ["0 3 * * * * *"], ["0 0 31 2 *"]])(
      "rejects the schedule %j",
      (schedule) => {
        expect(errorOf(() => parseOne({ trigger: { mode: "schedule", schedule } }))).toContain(
          'job "staff": trigger.schedule must be a 5- or 6-field cron expression',
        );
      },
    );

    it("rejects an unknown time zone", () => {
      expect(errorOf(() => parseOne({ trigger: { timezone: "Mars/Olympus" } }))).toBe(
        'job "staff": trigger.timezone must be an IANA time zone such as "Europe/Berlin" (got "Mars/Olympus")',
      );
    });

    it("rejects an unknown mode", () => {
      expect(errorOf(() => parseOne({ trigger: { mode: "cron" } }))).toContain(
        'trigger.mode must be one of "manual", "link-start", "link-start-continue", "schedule" (got "cron")',
      );
    });
  });

  describe("source", () => {
    it("bounds the page size to what Graph allows", () => {
      expect(errorOf(() => parseOne({ source: { pageSize: 1000 } }))).toBe(
        'job "staff": source.pageSize must be an integer from 1 to 999 (got 1000)',
      );
      expect(errorOf(() => parseOne({ source: { pageSize: 0 } }))).toContain("(got 0)");
      expect(errorOf(() => parseOne({ source: { pageSize: 10.5 } }))).toContain("(got 10.5)");
    });

    it("rejects a filter in delta mode", () => {
      expect(errorOf(() => parseOne({ source: { mode: "delta", filter: "x eq 1" } }))).toContain(
        'source.filter is only supported with source.mode "full"',
      );
    });

    it("rejects empty group ids and odd attribute names", () => {
      expect(errorOf(() => parseOne({ source: { groups: ["g", ""] } }))).toContain(
        "source.groups[1] must be a non-empty",
      );
      expect(errorOf(() => parseOne({ source: { attributes: ["depart ment"] } }))).toContain(
        "source.attributes[0] must be a Graph attribute name",
      );
    });
  });

  describe("change notifications (source.notifications)", () => {
    const file = (source: Record<string, unknown>) =>
      fileWith(JSON.stringify({ jobs: [{ id: "staff", source: { notifications: true, ...source } }] }));

    it("are accepted with an https PUBLIC_URL, from the file or SYNC_NOTIFICATIONS", () => {
      const [job] = loadJobs({ jobsFile: file({}), syncEnv: {}, publicUrl: "https://sync.example.com" });
      expect(job!.source.notifications).toBe(true);
      const [fromVariables] = loadJobs({
        jobsFile: null,
        syncEnv: { SYNC_NOTIFICATIONS: "true" },
        publicUrl: "https://sync.example.com",
      });
      expect(fromVariables!.source.notifications).toBe(true);
    });

    it("are refused at start-up when PUBLIC_URL is not https", () => {
      expect(errorOf(() => loadJobs({ jobsFile: file({}), syncEnv: {}, publicUrl: LOCAL_URL }))).toBe(
        'job "staff": source.notifications needs PUBLIC_URL to be an https:// URL that Microsoft Graph can reach (got http://localhost:3000); Graph sends change notifications over HTTPS only',
      );
    });

    it("are refused for a customer tenant", () => {
      expect(errorOf(() => parseOne({ source: { tenantKind: "external", notifications: true } }))).toMatch(
        'source.notifications cannot be true with source.tenantKind "external": Microsoft Graph sends no change notifications',
      );
    });
  });

  describe("customer tenants (source.tenantKind external)", () => {
    const external = (source: Record<string, unknown> = {}, rest: Record<string, unknown> = {}) =>
      parseOne({ source: { tenantKind: "external", ...source }, ...rest });

    it("defaults to a full listing matched by object id then e-mail, with the e-mail derived, not mapped", () => {
      const job = external({ pageSize: 999 });
      expect(job.source).toEqual({ ...JOB_DEFAULTS.source, pageSize: 999, tenantKind: "external" });
      expect(job.match.by).toEqual(["entraId", "email"]);
      expect(job.fields).toEqual({ first_name: "givenName", last_name: "surname", name: "displayName" });
      expect(fromEnv({ SYNC_TENANT_KIND: "external" })[0]!.source.tenantKind).toBe("external");
    });

    it("refuses delta at start-up and says why", () => {
      expect(errorOf(() => external({ mode: "delta" }))).toBe(
        'job "staff": source.mode "delta" is not available with source.tenantKind "external": Microsoft Graph has no change tracking in External ID and B2C tenants (no /users/delta, no change notifications); use "full" and schedule it',
      );
      expect(errorOf(() => fromEnv({ SYNC_TENANT_KIND: "external", SYNC_SOURCE_MODE: "delta" }))).toContain(
        'job "default" (SYNC_SOURCE_MODE): source.mode "delta" is not available',
      );
    });

    it("refuses advanced-query filters, UPN logins and a mapped e-mail", () => {
      expect(errorOf(() => external({ filter: "accountEnabled ne false" }))).toContain(
        "source.filter cannot use ne, not or endsWith",
      );
      expect(external({ filter: "displayName eq 'Ne Zha'" }).source.filter).toBe("displayName eq 'Ne Zha'");
      expect(errorOf(() => external({}, { username: "upnPrefix" }))).toContain(
        'username cannot be "upnPrefix" with source.tenantKind "external": customer accounts have a generated userPrincipalName',
      );
      expect(errorOf(() => external({}, { fields: { email: "mail", name: "displayName" } }))).toContain(
        'fields.email is derived with source.tenantKind "external" (the emailAddress identity, then mail, then otherMails)',
      );
      expect(errorOf(() => external({}, { match: ["entraId", "username"] }))).toContain(
        'match cannot include "username" with source.tenantKind "external": customers choose their user names themselves',
      );
      expect(errorOf(() => external({}, { match: { by: ["username"] } }))).toContain(
        'match.by cannot include "username"',
      );
      expect(errorOf(() => parseOne({ source: { tenantKind: "b2c" } }))).toContain(
        'source.tenantKind must be one of "workforce", "external" (got "b2c")',
      );
    });

    it("adopts by an unverified address (mail, otherMails) only when the job says so, and only for customers", () => {
      expect(external().match.adoptUnverifiedEmails).toBe(false);
      expect(external({}, { match: { adoptUnverifiedEmails: true } }).match).toEqual({
        by: ["entraId", "email"],
        emailDomains: [],
        adoptGuests: false,
        adoptUnverifiedEmails: true,
      });
      const fromVariables = fromEnv({ SYNC_TENANT_KIND: "external", SYNC_ADOPT_UNVERIFIED_EMAILS: "true" })[0]!;
      expect(fromVariables.match.adoptUnverifiedEmails).toBe(true);
      expect(errorOf(() => parseOne({ match: { adoptUnverifiedEmails: true } }))).toBe(
        'job "staff": match.adoptUnverifiedEmails applies only with source.tenantKind "external": in a workforce tenant mail is set by administrators, and every e-mail match is adopted within match.emailDomains',
      );
      expect(errorOf(() => external({}, { match: { adoptUnverifiedEmails: "yes" } }))).toContain(
        "match.adoptUnverifiedEmails must be",
      );
    });
  });

  describe("match and username", () => {
    it("rejects unknown or no match keys", () => {
      expect(errorOf(() => parseOne({ match: ["email", "upn"] }))).toContain('match[1] must be one of "entraId"');
      expect(errorOf(() => parseOne({ match: [] }))).toContain("match must name at least one");
    });

    it("drops repeated match keys", () => {
      expect(parseOne({ match: ["email", "email"] }).match.by).toEqual(["email"]);
    });

    it("takes the adoption rules in the object form of match", () => {
      expect(parseOne({ match: { by: ["email"], emailDomains: ["Contoso.COM"], adoptGuests: true } }).match).toEqual({
        by: ["email"],
        emailDomains: ["contoso.com"],
        adoptGuests: true,
        adoptUnverifiedEmails: false,
      });
      expect(parseOne({ match: { emailDomains: ["contoso.com"] } }).match.by).toEqual(["entraId", "email", "username"]);
    });

    it("refuses an e-mail domain that is not one, and unknown keys of match", () => {
      expect(errorOf(() => parseOne({ match: { emailDomains: ["@contoso.com"] } }))).toBe(
        'job "staff": match.emailDomains[0] must be an e-mail domain such as "contoso.com" (got "@contoso.com")',
      );
      expect(errorOf(() => parseOne({ match: { adoptGuest: true } }))).toContain("match.adoptGuest is not a known key");
      expect(errorOf(() => parseOne({ match: { by: [] } }))).toContain("match.by must name at least one of");
    });

    it("rejects an unknown username rule", () => {
      expect(errorOf(() => parseOne({ username: "mail" }))).toContain(
        'username must be one of "upn", "upnPrefix", "email"',
      );
    });
  });

  describe("fields", () => {
    it("replaces the default mapping as a whole", () => {
      expect(parseOne({ fields: { email: "mail" } }).fields).toEqual({ email: "mail" });
    });

    it("requires email", () => {
      expect(errorOf(() => parseOne({ fields: { name: "displayName" } }))).toContain("fields.email is required");
    });

    it("accepts WordPress fields and meta keys", () => {
      const fields = {
        email: "mail",
        first_name: "givenName",
        last_name: "surname",
        name: "displayName",
        nickname: "mailNickname",
        description: "jobTitle",
        url: "mySite",
        "meta.cost_center_2": "onPremisesExtensionAttributes.extensionAttribute1",
      };
      expect(parseOne({ fields }).fields).toEqual(fields);
    });

    it.each([["mail"], ["meta.Dept"], ["meta."], ["user_login"], ["roles"]])("rejects the field %j", (field) => {
      expect(errorOf(() => parseOne({ fields: { email: "mail", [field]: "x" } }))).toContain(
        `fields.${field} is not a WordPress field`,
      );
    });

    it("rejects expressions that are not attribute names joined by |", () => {
      expect(errorOf(() => parseOne({ fields: { email: "mail||userPrincipalName" } }))).toContain(
        'job "staff": fields.email has a mistake at position 6: expected a Graph attribute name, got ""',
      );
      expect(errorOf(() => parseOne({ fields: { email: "" } }))).toContain("fields.email must be a non-empty string");
    });

    it("accepts an expression in Entra's syntax and keeps it as written", () => {
      const name = 'Join(" ", [givenName], ToUpper([surname]))';
      expect(parseOne({ fields: { email: "mail", name } }).fields.name).toBe(name);
    });

    it("names the job, the field and the position of a mistake in an expression", () => {
      const message = errorOf(() =>
        parseOne({ fields: { email: "mail", name: 'Join(" ", [givenName], Lft([surname], 3))' } }),
      );
      expect(message).toContain('job "staff": fields.name has a mistake at position 24: unknown function Lft');
      expect(message).toContain('in "Join(\\" \\", [givenName], Lft([surname], 3))"');
    });

    it("names the SYNC_FIELDS variable for a mistake in the default job's expressions", () => {
      const fields = JSON.stringify({ email: "Left([mail])" });
      expect(errorOf(() => fromEnv({ SYNC_FIELDS: fields }))).toContain(
        'job "default" (SYNC_FIELDS): fields.email has a mistake at position 1: Left takes 2 arguments, got 1',
      );
    });

    it("takes a username expression, SelectUniqueValue included, and checks it like a field", () => {
      const username =
        'SelectUniqueValue(Join(".", [givenName], [surname]), Join(".", Left([givenName], 1), [surname]))';
      expect(parseOne({ username }).username).toBe(username);
      expect(errorOf(() => parseOne({ username: "upn_prefix" }))).toContain(
        'username must be one of "upn", "upnPrefix", "email" or an expression (got "upn_prefix")',
      );
      expect(errorOf(() => parseOne({ username: "SelectUniqueValue([mail])" }))).toContain(
        "username has a mistake at position 1: SelectUniqueValue takes at least 2 arguments, got 1",
      );
    });

    it("keeps SelectUniqueValue out of fields, where nothing checks uniqueness", () => {
      const name = "SelectUniqueValue([displayName], [mail])";
      expect(errorOf(() => parseOne({ fields: { email: "mail", name } }))).toContain(
        "fields.name uses SelectUniqueValue",
      );
    });

    it("refuses the manager in delta mode, where Graph cannot expand it", () => {
      const job = { source: { mode: "delta" }, fields: { email: "mail", "meta.boss": "[manager.displayName]" } };
      expect(errorOf(() => parseOne(job))).toContain(
        `fields.meta.boss reads the manager, which Graph's delta query cannot expand: use source.mode "full"`,
      );
    });

    it("normalises spaces around |", () => {
      expect(parseOne({ fields: { email: " mail | userPrincipalName " } }).fields.email).toBe("mail|userPrincipalName");
    });
  });

  describe("source.scopingFilters", () => {
    it("reads OR-ed filters of AND-ed clauses with Entra's operator names", () => {
      const scopingFilters = [
        [
          { attribute: "department", operator: "EQUALS", value: "Sales" },
          { attribute: "employeeId", operator: "Greater_Than", value: 1000 },
        ],
        [{ attribute: "jobTitle", operator: "IS NOT NULL" }],
      ];
      expect(parseOne({ source: { scopingFilters } }).source.scopingFilters).toEqual([
        [
          { attribute: "department", operator: "EQUALS", value: "Sales" },
          { attribute: "employeeId", operator: "GREATER_THAN", value: "1000" },
        ],
        [{ attribute: "jobTitle", operator: "IS_NOT_NULL", value: null }],
      ]);
    });

    it("names the filter, the clause and what is wrong", () => {
      const bad = (clause: Record<string, unknown>) => ({ source: { scopingFilters: [[clause]] } });
      expect(errorOf(() => parseOne(bad({ attribute: "department", operator: "LIKE", value: "x" })))).toContain(
        "source.scopingFilters[0][0].operator must be one of EQUALS, NOT EQUALS, IS TRUE",
      );
      expect(
        errorOf(() => parseOne(bad({ attribute: "employeeId", operator: "GREATER_THAN", value: "ten" }))),
      ).toContain('source.scopingFilters[0][0].value must be an integer with GREATER_THAN (got "ten")');
      expect(errorOf(() => parseOne(bad({ attribute: "mail", operator: "REGEX MATCH", value: "(" })))).toContain(
        "source.scopingFilters[0][0].value is not a valid regular expression",
      );
      expect(errorOf(() => parseOne(bad({ attribute: "a b", operator: "IS NULL" })))).toContain(
        "source.scopingFilters[0][0].attribute must be a Graph attribute name",
      );
      expect(errorOf(() => parseOne({ source: { scopingFilters: [[]] } }))).toContain(
        "source.scopingFilters[0] must be a non-empty array of clauses",
      );
    });
  });

  describe("roles", () => {
    it("rejects an unknown mode and an empty default", () => {
      expect(errorOf(() => parseOne({ roles: { mode: "merge" } }))).toContain('roles.mode must be one of "replace"');
      expect(errorOf(() => parseOne({ roles: { default: " " } }))).toContain(
        "roles.default must be a non-empty string",
      );
    });

    it("requires each group entry to name a group and a role", () => {
      expect(errorOf(() => parseOne({ roles: { groups: [{ group: "g" }] } }))).toContain(
        'roles.groups[0] must be an object { "group": "<group id>", "role": "<role>" }',
      );
      expect(errorOf(() => parseOne({ roles: { groups: [{ group: "", role: "editor" }] } }))).toContain(
        "roles.groups[0].group must be a non-empty string",
      );
    });

    it("refuses a job granting administrator unless roles.allowPrivileged is true", () => {
      expect(errorOf(() => parseOne({ roles: { groups: [{ group: "g", role: "administrator" }] } }))).toBe(
        'job "staff": roles.groups[0].role "administrator" can manage users or the site (create_users, edit_users, ' +
          "delete_users, promote_users, remove_users): set roles.allowPrivileged: true to grant it (the service then takes it " +
          "away again when the user leaves the job's scope)",
      );
      expect(errorOf(() => fromEnv({ SYNC_DEFAULT_ROLE: "administrator" }))).toContain(
        '(SYNC_DEFAULT_ROLE): roles.default "administrator" can manage users',
      );
      const allowed = parseOne({ roles: { default: "administrator", allowPrivileged: true } });
      expect(allowed.roles).toMatchObject({ default: "administrator", allowPrivileged: true });
    });

    it("leaves roles it does not know to the check against WordPress", () => {
      expect(parseOne({ roles: { default: "shop_manager" } }).roles.default).toBe("shop_manager");
    });

    it("refuses an empty protect.roles: administrators are always protected", () => {
      expect(errorOf(() => parseOne({ protect: { roles: [] } }))).toBe(
        'job "staff": protect.roles must not be empty: administrators are always protected; leave protect.roles out, or list the roles to protect besides administrator',
      );
    });

    it("keeps the other role settings when only groups are given", () => {
      expect(parseOne({ roles: { groups: [{ group: "g", role: "editor" }] } }).roles).toEqual({
        mode: "replace",
        default: "subscriber",
        groups: [{ group: "g", role: "editor" }],
        allowPrivileged: false,
      });
    });
  });

  describe("actions", () => {
    it("requires reassignTo when missing users are deleted", () => {
      expect(errorOf(() => parseOne({ actions: { missing: "delete" } }))).toContain(
        'job "staff": actions.reassignTo is required when actions.missing is "delete"',
      );
      expect(parseOne({ actions: { missing: "delete", reassignTo: 3 } }).actions.reassignTo).toBe(3);
    });

    it("requires reassignTo to be a positive integer", () => {
      expect(errorOf(() => parseOne({ actions: { missing: "delete", reassignTo: 0 } }))).toContain(
        "actions.reassignTo must be an integer of at least 1 (got 0)",
      );
      expect(errorOf(() => parseOne({ actions: { reassignTo: "1" } }))).toContain('(got "1")');
    });

    it("requires create and update to be booleans", () => {
      expect(errorOf(() => parseOne({ actions: { create: "yes" } }))).toContain("actions.create must be true or false");
    });
  });

  describe("protect and safety", () => {
    it("requires protected users to be WordPress ids", () => {
      expect(errorOf(() => parseOne({ protect: { users: [1, -2] } }))).toContain("protect.users[1] must be an integer");
    });

    it("bounds maxDeleteFraction to 0..1 and maxDeleteCount to 0 or more", () => {
      expect(errorOf(() => parseOne({ safety: { maxDeleteFraction: 1.5 } }))).toContain(
        "safety.maxDeleteFraction must be a number from 0 to 1 (got 1.5)",
      );
      expect(errorOf(() => parseOne({ safety: { maxDeleteCount: -1 } }))).toContain("safety.maxDeleteCount must be");
      expect(parseOne({ safety: { maxDeleteFraction: 0, maxDeleteCount: 0 } }).safety).toEqual({
        maxDeleteFraction: 0,
        maxDeleteCount: 0,
      });
    });
  });

  describe("webhook", () => {
    it("accepts http and https URLs with a Standard Webhooks secret", () => {
      const job = parseOne({ webhook: "http://hooks.internal/x", webhookSecret: TEST_WEBHOOK_SECRET });
      expect(job).toMatchObject({ webhook: "http://hooks.internal/x", webhookSecret: TEST_WEBHOOK_SECRET });
    });

    it.each([["ftp://x.test/"], ["not a url"]])("rejects %j", (webhook) => {
      expect(errorOf(() => parseOne({ webhook, webhookSecret: TEST_WEBHOOK_SECRET }))).toContain(
        "webhook must be an http:// or https:// URL",
      );
    });

    it("requires a secret with a webhook, and says how to make one", () => {
      expect(errorOf(() => parseOne({ webhook: "https://hooks.example.test/x" }))).toContain(
        'webhookSecret is required with webhook: receivers check each event\'s signature with it (make one with: echo "whsec_$(openssl rand -base64 32)")',
      );
    });

    it.each([
      ["no prefix", Buffer.alloc(32).toString("base64")],
      ["too short", `whsec_${Buffer.alloc(16).toString("base64")}`],
      ["not base64", "whsec_not*base64*at*all*not*base64*at*all"],
    ])("refuses a secret with %s, without echoing it", (_what, webhookSecret) => {
      const message = errorOf(() => parseOne({ webhook: "https://hooks.example.test/x", webhookSecret }));
      expect(message).toContain('webhookSecret must be "whsec_" followed by the base64 of 24 to 64 random bytes');
      expect(message).not.toContain(webhookSecret);
    });
  });
});

describe("network target validation", () => {
  it("fills in the defaults: all sites, the job's default role everywhere, no network delete", () => {
    expect(parseOne({ roles: { default: "author" }, network: {} }).network).toEqual({
      sites: "all",
      defaultRole: "author",
      siteDefaults: [],
      groups: [],
      deleteFromNetwork: false,
    });
    expect(parseOne({}).network).toBeNull();
  });

  it("reads sites by path and id, per-site defaults and group -> (site, role)", () => {
    const network = {
      sites: ["/", "/hr/", 3],
      defaultRole: "",
      siteDefaults: [{ site: "/hr/", role: "contributor" }],
      groups: [{ group: "g1", site: 3, role: "editor" }],
      deleteFromNetwork: true,
    };
    expect(parseOne({ network }).network).toEqual(network);
  });

  it.each([
    [{ sites: [] }, 'network.sites must be "all" or a non-empty list of site paths and ids (got [])'],
    [{ sites: ["hr"] }, 'network.sites[0] must be a site path such as "/" or "/hr/", or a site id (got "hr")'],
    [{ sites: [0] }, "network.sites[0] must be a site path"],
    [
      { groups: [{ group: "g", role: "editor" }] },
      'network.groups[0] must be an object { "group": "<group id>", "site": "/hr/", "role": "<role>" }',
    ],
    [
      { siteDefaults: [{ site: "/hr/", role: "a role" }] },
      'network.siteDefaults[0].role must be a role name, or "" for a member without a role (got "a role")',
    ],
    [{ deleteFromNetwork: "yes" }, 'network.deleteFromNetwork must be true or false (got "yes")'],
    [{ site: "all" }, "network.site is not a known key"],
  ])("refuses %j naming the field", (network, message) => {
    expect(errorOf(() => parseOne({ network }))).toContain(`job "staff": ${message}`);
  });

  it("refuses a network role that manages users or the site unless roles.allowPrivileged is true", () => {
    const network = { groups: [{ group: "g", site: "/hr/", role: "administrator" }] };
    expect(errorOf(() => parseOne({ network }))).toContain(
      'job "staff": network.groups[0].role "administrator" can manage users or the site',
    );
    expect(errorOf(() => parseOne({ network: { siteDefaults: [{ site: 2, role: "administrator" }] } }))).toContain(
      'job "staff": network.siteDefaults[0].role "administrator" can manage users or the site',
    );
    expect(parseOne({ roles: { allowPrivileged: true }, network }).network?.groups).toEqual(network.groups);
  });

  it("refuses roles.groups next to a network, whose roles are per site", () => {
    expect(errorOf(() => parseOne({ roles: { groups: [{ group: "g", role: "editor" }] }, network: {} }))).toContain(
      'job "staff": roles.groups cannot be used with network',
    );
  });
});

describe("a SCIM job (source.kind scim)", () => {
  const scim = (job: Record<string, unknown> = {}) => parseOne({ source: { kind: "scim" }, ...job });

  it("maps SCIM attribute paths, with defaults for the core attributes and userName as the login", () => {
    const job = scim();
    expect(job.source.kind).toBe("scim");
    expect(job.username).toBe("upn");
    expect(job.fields).toEqual({
      first_name: "name.givenName",
      last_name: "name.familyName",
      name: "displayName",
      email: "emails.work.value|emails.value|userName",
    });
    const mapped = scim({
      fields: {
        email: 'emails[type eq "work"].value',
        "meta.department": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        "meta.boss": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        "meta.mobile": 'phoneNumbers[type eq "mobile"].value',
      },
      username: "userNamePrefix",
    });
    expect(mapped.fields).toEqual({
      email: "emails.work.value",
      "meta.department": "enterprise.department",
      "meta.boss": "enterprise.manager.value",
      "meta.mobile": "phoneNumbers.mobile.value",
    });
    expect(mapped.username).toBe("upnPrefix");
  });

  it("refuses what only a Graph listing has, and paths it cannot read, naming them", () => {
    expect(errorOf(() => scim({ source: { kind: "scim", mode: "delta" } }))).toBe(
      'job "staff": source.mode is not used by a SCIM job (its provider pushes users): leave it out',
    );
    expect(errorOf(() => scim({ trigger: { mode: "schedule" } }))).toContain('job "staff": trigger is not used');
    expect(errorOf(() => scim({ fields: { email: 'emails[value eq "x"].value' } }))).toContain(
      'job "staff": fields.email must be SCIM attribute paths',
    );
    expect(errorOf(() => scim({ fields: { email: "mail" } }))).toContain('"mail" is not a supported attribute path');
    expect(errorOf(() => scim({ username: "upn" }))).toContain(
      'job "staff": username must be one of "userName", "userNamePrefix", "email" for a SCIM job',
    );
    expect(errorOf(() => parseOne({ source: { kind: "ldap" } }))).toContain(
      'job "staff": source.kind must be one of "graph", "scim"',
    );
  });

  it("may be a dry run (a Graph job may not: its runs are dry when asked for), and says so with a boolean", () => {
    expect(scim().dryRun).toBe(false);
    expect(scim({ dryRun: true }).dryRun).toBe(true);
    expect(parseOne({}).dryRun).toBe(false);
    expect(errorOf(() => scim({ dryRun: "yes" }))).toBe('job "staff": dryRun must be true or false (got "yes")');
    expect(errorOf(() => parseOne({ dryRun: true }))).toBe(
      'job "staff": dryRun is for SCIM jobs: a Graph job\'s runs are dry when asked for (POST /v1/jobs/staff/runs with {"dryRun": true}, or run staff --dry-run)',
    );
  });
});
