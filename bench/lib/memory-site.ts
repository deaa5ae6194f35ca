/**
 * A zero-latency WordPress behind the Site port for rows that measure the engine, not WordPress
 * (re-sync of 10,000, planning per page, memory at 100,000). tools/fake-wordpress.ts is the
 * faithful fake for tests, but its lookups scan every user and its listings sort and clone them,
 * which at 10,000+ users costs more than the engine being measured; here every lookup is a Map.
 */
import { UpstreamError } from "../../src/core/errors";
import { capabilitiesOf } from "../../src/core/privileges";
import type { WpUser, WpWrite } from "../../src/core/users";
import type { Site, SiteInfo } from "../../src/sync/ports";

const PLAIN_FIELDS = new Set(["email", "first_name", "last_name", "name", "nickname", "description", "url"]);

/** What a parsed REST response would be: the caller's own objects, as the real site returns. */
const copy = (user: WpUser): WpUser => ({
  ...user,
  roles: [...user.roles],
  capabilities: capabilitiesOf(user.roles),
  meta: { ...user.meta },
});

export class MemorySite implements Site {
  /** Requests the engine made, by method (a real site would have sent each over HTTP). */
  readonly requests = { GET: 0, POST: 0, DELETE: 0 };
  private readonly users: WpUser[] = [];
  private readonly byId = new Map<number, WpUser>();
  private readonly logins = new Map<string, WpUser>();
  private readonly emails = new Map<string, WpUser>();
  private nextId = 1;
  readonly selfId: number;
  /**
   * keepUsers false: remember only the logins and e-mails taken (enough to answer creates, with
   * "exists"), so a memory row counts the service and not 100,000 users held by its fake WordPress,
   * which a real, remote WordPress would hold instead. Reads then find none of those users.
   */
  private readonly keepUsers: boolean;
  private readonly taken = new Set<string>();

  constructor(options: { keepUsers?: boolean } = {}) {
    this.keepUsers = options.keepUsers ?? true;
    this.selfId = this.insert("admin", { fields: { email: "admin@example.org" }, roles: ["administrator"] }).id;
  }

  get size(): number {
    return this.byId.size;
  }

  total(): number {
    return this.requests.GET + this.requests.POST + this.requests.DELETE;
  }

  resetCounters(): void {
    this.requests.GET = 0;
    this.requests.POST = 0;
    this.requests.DELETE = 0;
  }

  async info(): Promise<SiteInfo> {
    this.requests.GET++;
    return { selfId: this.selfId, companionPlugin: false, roles: null };
  }

  async listUsers(page: number): Promise<{ users: WpUser[]; totalPages: number }> {
    this.requests.GET++;
    return {
      users: this.users.slice((page - 1) * 100, page * 100).map(copy),
      totalPages: Math.max(1, Math.ceil(this.users.length / 100)),
    };
  }

  async getUser(id: number): Promise<WpUser | null> {
    this.requests.GET++;
    const user = this.byId.get(id);
    return user ? copy(user) : null;
  }

  async findUser(by: { email?: string; username?: string }): Promise<WpUser | null> {
    this.requests.GET++;
    return (
      (by.email && this.emails.get(by.email.toLowerCase())) ||
      (by.username && this.logins.get(by.username.toLowerCase())) ||
      null
    );
  }

  async findByEntraId(): Promise<WpUser | null> {
    return null;
  }

  async createUser(username: string, write: WpWrite): Promise<WpUser> {
    this.requests.POST++;
    const login = `login:${username.toLowerCase()}`;
    const email = `email:${(write.fields.email ?? "").toLowerCase()}`;
    if (
      this.logins.has(username.toLowerCase()) ||
      this.emails.has((write.fields.email ?? "").toLowerCase()) ||
      this.taken.has(login) ||
      this.taken.has(email)
    ) {
      throw new UpstreamError("Sorry, that user already exists!", "wordpress", "exists", {
        status: 400,
        code: "existing_user_login",
      });
    }
    return this.insert(username, write);
  }

  async updateUser(id: number, write: WpWrite): Promise<WpUser> {
    this.requests.POST++;
    return this.apply(this.mustGet(id), write);
  }

  async deactivateUser(id: number): Promise<void> {
    this.requests.POST++;
    this.mustGet(id).roles = [];
  }

  async reactivateUser(id: number, write: WpWrite): Promise<WpUser> {
    this.requests.POST++;
    return this.apply(this.mustGet(id), write);
  }

  /** Photos are not benchmarked: nothing is stored. */
  async setAvatar(): Promise<boolean> {
    this.requests.POST++;
    return false;
  }

  async deleteUser(id: number): Promise<void> {
    this.requests.DELETE++;
    const user = this.mustGet(id);
    this.byId.delete(id);
    this.logins.delete(user.username.toLowerCase());
    this.emails.delete(user.email.toLowerCase());
    this.users.splice(this.users.indexOf(user), 1);
  }

  private insert(username: string, write: WpWrite): WpUser {
    if (!this.keepUsers && this.nextId > 1) {
      this.taken.add(`login:${username.toLowerCase()}`).add(`email:${(write.fields.email ?? "").toLowerCase()}`);
      return this.apply(this.blank(this.nextId++, username, write), write);
    }
    const user = this.apply(this.blank(this.nextId++, username, write), write);
    this.users.push(user);
    this.byId.set(user.id, user);
    this.logins.set(username.toLowerCase(), user);
    this.emails.set(user.email.toLowerCase(), user);
    return user;
  }

  private blank(id: number, username: string, write: WpWrite): WpUser {
    return {
      id,
      username,
      email: "",
      name: username,
      first_name: "",
      last_name: "",
      nickname: username,
      description: "",
      url: "",
      roles: write.roles ?? ["subscriber"],
      capabilities: [],
      meta: {},
    };
  }

  private apply(user: WpUser, write: WpWrite): WpUser {
    for (const [key, value] of Object.entries(write.fields)) {
      if (!PLAIN_FIELDS.has(key)) continue;
      if (key === "email" && this.byId.get(user.id) === user) {
        this.emails.delete(user.email.toLowerCase());
        this.emails.set(value.toLowerCase(), user);
      }
      (user as unknown as Record<string, string>)[key] = value;
    }
    if (write.roles) user.roles = [...write.roles];
    return user;
  }

  private mustGet(id: number): WpUser {
    const user = this.byId.get(id);
    if (!user) throw new UpstreamError("Invalid user ID.", "wordpress", "not-found", { status: 404 });
    return user;
  }
}
