/**
 * What a WordPress role or account may do, judged by capabilities rather than role names, so that
 * a custom role holding `edit_users` counts exactly like `administrator`. Pure: the site's roles
 * come from the companion plugin when it is installed, else from WordPress's core roles below.
 */
import type { Job } from "./job";

/** Role name -> the capabilities it grants. */
export type RoleCatalogue = Readonly<Record<string, readonly string[]>>;

const SUBSCRIBER = ["read", "level_0"];
const CONTRIBUTOR = [...SUBSCRIBER, "edit_posts", "delete_posts", "level_1"];
const AUTHOR = [
  ...CONTRIBUTOR,
  "upload_files",
  "edit_published_posts",
  "publish_posts",
  "delete_published_posts",
  "level_2",
];
const EDITOR = [
  ...AUTHOR,
  ...["moderate_comments", "manage_categories", "manage_links", "unfiltered_html", "edit_others_posts"],
  ...["edit_pages", "edit_others_pages", "edit_published_pages", "publish_pages", "delete_pages"],
  ...["delete_others_pages", "delete_published_pages", "delete_others_posts", "delete_private_posts"],
  ...["edit_private_posts", "read_private_posts", "delete_private_pages", "edit_private_pages"],
  ...["read_private_pages", "level_3", "level_4", "level_5", "level_6", "level_7"],
];

/**
 * Capabilities that manage users or the site. A role holding one is "privileged": a job may grant
 * it only with roles.allowPrivileged (docs/jobs.md "Privileged roles").
 */
export const MANAGEMENT_CAPABILITIES: readonly string[] = [
  ...["create_users", "edit_users", "delete_users", "promote_users", "remove_users", "add_users", "list_users"],
  ...["manage_options", "activate_plugins", "install_plugins", "edit_plugins", "update_plugins", "delete_plugins"],
  ...["switch_themes", "install_themes", "edit_themes", "update_themes", "delete_themes", "edit_theme_options"],
  ...["update_core", "edit_files", "import", "export", "unfiltered_upload", "manage_network", "manage_sites"],
  ...["manage_network_users", "manage_network_plugins", "manage_network_themes", "manage_network_options"],
  ...["upgrade_network", "setup_network", "create_sites", "delete_sites"],
];

/**
 * Capabilities over other people's content or the site's markup, on top of the management ones:
 * an existing account holding any of these (or a management one) that the job cannot grant is never
 * adopted by e-mail or user name (docs/jobs.md "Matching existing WordPress users").
 */
export const CONTENT_CAPABILITIES: readonly string[] = [
  ...["unfiltered_html", "moderate_comments", "manage_categories", "manage_links"],
  ...["edit_others_posts", "edit_others_pages", "delete_others_posts", "delete_others_pages"],
  ...["edit_private_posts", "edit_private_pages", "delete_private_posts", "delete_private_pages"],
];

/** WordPress 6.1's core roles (populate_roles), checked against a fresh install. */
export const CORE_ROLES: RoleCatalogue = {
  administrator: [
    ...EDITOR,
    ...["switch_themes", "edit_themes", "activate_plugins", "edit_plugins", "edit_users", "edit_files"],
    ...["manage_options", "import", "delete_users", "create_users", "unfiltered_upload", "edit_dashboard"],
    ...["update_plugins", "delete_plugins", "install_plugins", "update_themes", "install_themes", "update_core"],
    ...["list_users", "remove_users", "promote_users", "edit_theme_options", "delete_themes", "export"],
    ...["level_8", "level_9", "level_10"],
  ],
  editor: EDITOR,
  author: AUTHOR,
  contributor: CONTRIBUTOR,
  subscriber: SUBSCRIBER,
};

/**
 * Plugins name their own management capabilities `manage_<thing>` (manage_woocommerce, ...), and
 * per-post-type ones `edit_others_<type>`: they count too, so custom roles of plugins are covered.
 */
export function isManagementCapability(cap: string): boolean {
  if (MANAGEMENT_CAPABILITIES.includes(cap)) return true;
  return cap.startsWith("manage_") && !CONTENT_CAPABILITIES.includes(cap);
}

export function isElevatedCapability(cap: string): boolean {
  return (
    isManagementCapability(cap) ||
    CONTENT_CAPABILITIES.includes(cap) ||
    cap.startsWith("edit_others_") ||
    cap.startsWith("delete_others_")
  );
}

/** Every role the job may give someone: the default, the group mappings and a network's per-site roles, with where each is set. */
export function jobRoles(job: Job): Array<{ role: string; path: string }> {
  const roles = [
    { role: job.roles.default, path: "roles.default" },
    ...job.roles.groups.map((entry, index) => ({ role: entry.role, path: `roles.groups[${index}].role` })),
    // A network job grants its roles per site ("" = a member without a role grants nothing).
    ...(job.network === null
      ? []
      : [
          { role: job.network.defaultRole, path: "network.defaultRole" },
          ...job.network.siteDefaults.map((entry, index) => ({
            role: entry.role,
            path: `network.siteDefaults[${index}].role`,
          })),
          ...job.network.groups.map((entry, index) => ({ role: entry.role, path: `network.groups[${index}].role` })),
        ]
    ).filter((entry) => entry.role !== ""),
  ];
  return roles.filter((entry, index) => roles.findIndex((other) => other.role === entry.role) === index);
}

export interface GrantPolicy extends Grants {
  /** Why the job may not run: it grants a privileged role, or (without the plugin) an unknown one. */
  problem: { path: string; reason: "privileged" | "unknown"; message: string } | null;
}

/** What a job may give accounts on a site: the yardstick of adoption and of protection. */
export interface Grants {
  /** Every capability some role of the job grants (unknown roles grant nothing). */
  grantable: ReadonlySet<string>;
  /** The site's roles (the companion plugin's, else WordPress's core roles): what a role the job gave allows. */
  catalogue: RoleCatalogue;
}

/**
 * What the job's roles grant on this site. `siteRoles` comes from the companion plugin; without it
 * only the core roles are known, and any other role is treated as privileged: the service cannot
 * tell what it allows.
 */
export function grantPolicy(job: Job, siteRoles: RoleCatalogue | null): GrantPolicy {
  const catalogue = siteRoles ?? CORE_ROLES;
  const grantable = new Set<string>();
  let problem: GrantPolicy["problem"] = null;
  for (const { role, path } of jobRoles(job)) {
    const caps = catalogue[role];
    for (const cap of caps ?? []) grantable.add(cap);
    if (job.roles.allowPrivileged || problem) continue;
    if (caps === undefined && siteRoles === null) {
      problem = {
        path,
        reason: "unknown",
        message:
          `"${role}" is not a WordPress core role and the companion plugin is not installed to tell what it ` +
          `allows: install the plugin, or set roles.allowPrivileged: true to grant it anyway`,
      };
      continue;
    }
    const management = worstFirst((caps ?? []).filter(isManagementCapability));
    if (management.length > 0) {
      problem = {
        path,
        reason: "privileged",
        message:
          `"${role}" can manage users or the site (${management.slice(0, 5).join(", ")}): set roles.allowPrivileged: ` +
          `true to grant it (the service then takes it away again when the user leaves the job's scope)`,
      };
    }
  }
  return { grantable, catalogue, problem };
}

/** The capabilities of an account that the job could not have given it, worst first. */
export function capabilitiesBeyond(capabilities: readonly string[], grantable: ReadonlySet<string>): string[] {
  return worstFirst(capabilities.filter((cap) => isElevatedCapability(cap) && !grantable.has(cap)));
}

/**
 * The elevated capabilities an account holds that this job could not have given it: beyond what the
 * job's roles grant and what the roles the job gave this very account (`granted`) allow. The rule of
 * adoption (core/match.ts) applied to accounts the job already syncs: non-empty means someone gave
 * the account more in WordPress, and the service leaves it alone (core/plan.ts isProtected).
 */
export function privilegesBeyond(
  capabilities: readonly string[],
  grants: Grants,
  granted: readonly string[],
): string[] {
  if (granted.length === 0) return capabilitiesBeyond(capabilities, grants.grantable);
  const allowed = new Set([...grants.grantable, ...capabilitiesOf(granted, grants.catalogue)]);
  return capabilitiesBeyond(capabilities, allowed);
}

/** The companion plugin's refusal of a guarded write (and the site's, without the plugin): see guardRoles. */
export const PROTECTED_CODE = "entra_wp_sync_protected";

/**
 * The roles whose capabilities an account may hold for a write of this job to go ahead: the job's
 * roles and those it gave this account. Sent as the companion plugin's batch "guard", which applies
 * privilegesBeyond's rule inside the write's transaction, on what WordPress holds at that moment.
 */
export function guardRoles(job: Job, granted: readonly string[]): string[] {
  return [...new Set([...jobRoles(job).map((entry) => entry.role), ...granted])];
}

/** In the order of the lists above (users first), then others (plugins') by name: messages name the worst. */
function worstFirst(caps: string[]): string[] {
  const order = [...MANAGEMENT_CAPABILITIES, ...CONTENT_CAPABILITIES];
  const rank = (cap: string) => (order.includes(cap) ? order.indexOf(cap) : order.length);
  return [...caps].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** What an account holding these roles may do, as WordPress lists it (role names included). */
export function capabilitiesOf(roles: readonly string[], catalogue: RoleCatalogue = CORE_ROLES): string[] {
  return [...new Set(roles.flatMap((role) => [...(catalogue[role] ?? []), role]))];
}
