/**
 * An in-memory WordPress behind the Site port, for the tests and the demo's --fake-wordpress,
 * faithful to the REST behaviour the engine relies on: logins and e-mails unique
 * case-insensitively (create/update answer kind "exists" with existing_user_login /
 * existing_user_email), 404 as kind "not-found", roles replaced as a list, meta only with the
 * companion plugin. Counts requests per method, and can inject faults: failNext(n) and
 * dieAfterCreates(n) (every later call hangs, as a process that died mid-step).
 */

import { UpstreamError, type UpstreamKind } from "../src/core/errors";
import { capabilitiesOf } from "../src/core/privileges";
import { ENTRA_ID_META, type WpUser, type WpWrite } from "../src/core/users";
import type { Site, SiteInfo } from "../src/sync/ports";

const PLAIN_FIELDS = ["email", "first_name", "last_name", "name", "nickname", "description", "url"] as const;

/** Capabilities follow the roles (WordPress computes them per request), unless seeded as a custom role's. */
interface Stored extends Omit<WpUser, "capabilities"> {
  deactivated: boolean;
  customCapabilities?: string[];
}

export interface FakeSiteOptions {
  companionPlugin?: boolean;
}

export class FakeSite implements Site {
  readonly requests = { GET: 0, POST: 0, DELETE: 0 };
  creates = 0;
  /** listUsers calls: building a match index lists every page. */
  lists = 0;
  private readonly users = new Map<number, Stored>();
  private nextId = 1;
  private failures: Array<{ kind: UpstreamKind }> = [];
  private dieAfter: number | null = null;
  private dead = false;
  private down = false;
  private readonly crashingEmails = new Set<string>();
  readonly selfId: number;
  readonly companionPlugin: boolean;

  constructor(options: FakeSiteOptions = {}) {
    this.companionPlugin = options.companionPlugin ?? false;
    // The service's own account, as on a fresh WordPress.
    this.selfId = this.seed({ username: "admin", email: "admin@example.org", roles: ["administrator"] }).id;
  }

  /** Adds a user directly (not counted as a request). */
  seed(
    user: Partial<Omit<WpUser, "capabilities">> & { username: string; email: string; capabilities?: string[] },
  ): WpUser {
    const id = this.nextId++;
    const stored: Stored = {
      id,
      name: user.username,
      first_name: "",
      last_name: "",
      nickname: user.username,
      description: "",
      url: "",
      roles: ["subscriber"],
      meta: {},
      ...user,
      deactivated: false,
      customCapabilities: user.capabilities,
    };
    this.users.set(id, stored);
    return this.view(stored);
  }

  /** Every user, as WordPress would list them. */
  all(): WpUser[] {
    return [...this.users.values()].map((u) => this.view(u));
  }

  isDeactivated(id: number): boolean {
    return this.users.get(id)?.deactivated ?? false;
  }

  writes(): number {
    return this.requests.POST + this.requests.DELETE;
  }

  total(): number {
    return this.requests.GET + this.requests.POST + this.requests.DELETE;
  }

  resetCounters(): void {
    this.requests.GET = 0;
    this.requests.POST = 0;
    this.requests.DELETE = 0;
    this.creates = 0;
  }

  /** The next n calls fail with this kind (after retries, as the real client reports them). */
  failNext(n: number, kind: UpstreamKind = "transient"): void {
    for (let i = 0; i < n; i++) this.failures.push({ kind });
  }

  /**
   * Writes of a user with this e-mail die with HTTP 500, as WordPress does when one user's data
   * makes PHP fail (e.g. a display name longer than its column), while every other request works.
   */
  crashOnWritesOf(email: string): void {
    this.crashingEmails.add(email.toLowerCase());
  }

  /** Every request answers HTTP 500 ("Error establishing a database connection"), until up(). */
  goDown(): void {
    this.down = true;
  }

  up(): void {
    this.down = false;
  }

  /** After n more successful creates, every call hangs forever: the step's process "died". */
  dieAfterCreates(n: number): void {
    this.dieAfter = this.creates + n;
  }

  revive(): void {
    this.dead = false;
    this.dieAfter = null;
  }

  async info(): Promise<SiteInfo> {
    await this.request("GET");
    return { selfId: this.selfId, companionPlugin: this.companionPlugin, roles: null };
  }

  async listUsers(page: number): Promise<{ users: WpUser[]; totalPages: number }> {
    await this.request("GET");
    this.lists++;
    const sorted = [...this.users.values()].sort((a, b) => a.id - b.id);
    return {
      users: sorted.slice((page - 1) * 100, page * 100).map((u) => this.view(u)),
      totalPages: Math.max(1, Math.ceil(sorted.length / 100)),
    };
  }

  async getUser(id: number): Promise<WpUser | null> {
    await this.request("GET");
    const user = this.users.get(id);
    return user ? this.view(user) : null;
  }

  async findUser(by: { email?: string; username?: string }): Promise<WpUser | null> {
    await this.request("GET");
    const hit = (by.email && this.byEmail(by.email)) || (by.username && this.byLogin(by.username)) || null;
    return hit ? this.view(hit) : null;
  }

  async findByEntraId(entraId: string): Promise<WpUser | null> {
    if (!this.companionPlugin) return null;
    await this.request("GET");
    const hit = [...this.users.values()].find((u) => u.meta[ENTRA_ID_META]?.toLowerCase() === entraId.toLowerCase());
    return hit ? this.view(hit) : null;
  }

  async createUser(username: string, write: WpWrite, entraId: string): Promise<WpUser> {
    await this.request("POST", write.fields.email);
    if (this.dieAfter !== null && this.creates >= this.dieAfter) {
      this.dead = true;
      await hang();
    }
    if (!username) throw invalid("rest_invalid_param", "username is required");
    const email = write.fields.email;
    if (!email?.includes("@")) throw invalid("rest_invalid_param", "Invalid email address");
    if (this.byLogin(username)) throw exists("existing_user_login", "Sorry, that username already exists!");
    if (this.byEmail(email)) throw exists("existing_user_email", "Sorry, that email address is already used!");
    const id = this.nextId++;
    const stored: Stored = {
      id,
      username,
      email,
      name: username,
      first_name: "",
      last_name: "",
      nickname: username,
      description: "",
      url: "",
      roles: write.roles ?? ["subscriber"],
      meta: this.companionPlugin ? { [ENTRA_ID_META]: entraId } : {},
      deactivated: false,
    };
    this.applyFields(stored, write);
    this.users.set(id, stored);
    this.creates++;
    return this.view(stored);
  }

  async updateUser(id: number, write: WpWrite): Promise<WpUser> {
    await this.request("POST", write.fields.email ?? this.users.get(id)?.email);
    const user = this.mustGet(id);
    const email = write.fields.email;
    if (email !== undefined) {
      const other = this.byEmail(email);
      if (other && other.id !== id) throw exists("existing_user_email", "Sorry, that email address is already used!");
    }
    this.applyFields(user, write);
    if (write.roles) user.roles = [...write.roles];
    return this.view(user);
  }

  async deactivateUser(id: number): Promise<void> {
    await this.request("POST");
    const user = this.mustGet(id);
    user.roles = [];
    user.deactivated = true;
  }

  async reactivateUser(id: number, write: WpWrite): Promise<WpUser> {
    await this.request("POST");
    const user = this.mustGet(id);
    user.deactivated = false;
    this.applyFields(user, write);
    if (write.roles) user.roles = [...write.roles];
    return this.view(user);
  }

  async deleteUser(id: number, reassignTo: number): Promise<void> {
    await this.request("DELETE");
    this.mustGet(id);
    if (!this.users.has(reassignTo)) throw invalid("rest_user_invalid_reassign", "Invalid user ID for reassignment.");
    this.users.delete(id);
  }

  /** WordPress user id -> avatar bytes, as the companion plugin would store them. */
  readonly avatars = new Map<number, Uint8Array>();

  async setAvatar(id: number, photo: Uint8Array | null): Promise<boolean> {
    await this.request(photo === null ? "DELETE" : "POST");
    this.mustGet(id);
    if (photo === null) this.avatars.delete(id);
    else this.avatars.set(id, photo);
    return true;
  }

  private async request(method: keyof FakeSite["requests"], email?: string): Promise<void> {
    if (this.dead) await hang();
    this.requests[method]++;
    if (this.down || (email !== undefined && this.crashingEmails.has(email.toLowerCase()))) {
      throw new UpstreamError("WordPress answered HTTP 500", "wordpress", "transient", { status: 500 });
    }
    // Yield like a network call would, so concurrency is real.
    await Promise.resolve();
    const failure = this.failures.shift();
    if (failure)
      throw new UpstreamError(`injected ${failure.kind} failure`, "wordpress", failure.kind, { status: 503 });
  }

  private mustGet(id: number): Stored {
    const user = this.users.get(id);
    if (!user)
      throw new UpstreamError("Invalid user ID.", "wordpress", "not-found", {
        status: 404,
        code: "rest_user_invalid_id",
      });
    return user;
  }

  private byEmail(email: string): Stored | undefined {
    const key = email.toLowerCase();
    return [...this.users.values()].find((u) => u.email.toLowerCase() === key);
  }

  private byLogin(login: string): Stored | undefined {
    const key = login.toLowerCase();
    return [...this.users.values()].find((u) => u.username.toLowerCase() === key);
  }

  private applyFields(user: Stored, write: WpWrite): void {
    for (const [key, value] of Object.entries(write.fields)) {
      if (key.startsWith("meta.")) {
        if (this.companionPlugin) user.meta[key.slice(5)] = value;
      } else if ((PLAIN_FIELDS as readonly string[]).includes(key)) {
        (user as unknown as Record<string, string>)[key] = value;
      }
    }
  }

  private view(user: Stored): WpUser {
    const { deactivated: _, customCapabilities, ...rest } = structuredClone(user);
    return { ...rest, capabilities: customCapabilities ?? capabilitiesOf(rest.roles) };
  }
}

/** A call into a process that is gone: it never answers. */
function hang(): Promise<never> {
  return new Promise<never>(() => undefined);
}

function exists(code: string, message: string): UpstreamError {
  return new UpstreamError(message, "wordpress", "exists", { status: 400, code });
}

function invalid(code: string, message: string): UpstreamError {
  return new UpstreamError(message, "wordpress", "invalid", { status: 400, code });
}
