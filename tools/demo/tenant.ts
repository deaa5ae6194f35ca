/**
 * The demo's directory: a few thousand generated users (guests, disabled accounts, users without
 * mail, non-ASCII and apostrophe names come with the generator), two nested groups mapped to
 * WordPress roles, and the handful of changes made between the two runs.
 */
import { makeTenant, type SimGroup, type SimTenant, type SimUser } from "../graph-sim";

export interface DemoTenant {
  tenant: SimTenant;
  /** group -> WordPress role, first match wins (SYNC_ROLE_GROUPS order). */
  roleGroups: Array<{ group: SimGroup; role: string }>;
  describe(): string;
}

export function makeDemoTenant(users: number): DemoTenant {
  const guests = Math.round(users / 50);
  const disabled = Math.round(users / 75);
  const tenant = makeTenant({ users, guests, disabled, withoutMail: 10, groups: 2, seed: 8 });
  // Generated groups: "All Staff" (every second user) nests "Team 1" (every third).
  const [allStaff, team] = [...tenant.groups.values()];
  const roleGroups = [
    { group: team!, role: "editor" },
    { group: allStaff!, role: "author" },
  ];
  return {
    tenant,
    roleGroups,
    describe: () =>
      `${users.toLocaleString("en-US")} users (${guests} guests, ${disabled} disabled, 10 without mail, names like ` +
      `${sample(tenant)}); groups ${roleGroups.map(({ group, role }) => `"${group.displayName}" -> ${role}`).join(", ")}, ` +
      "everyone else subscriber",
  };
}

function sample(tenant: SimTenant): string {
  return [0, 1, 2]
    .map((i) => tenant.userAt(i)?.displayName)
    .filter(Boolean)
    .join(", ");
}

export interface TenantChanges {
  renamed: SimUser[];
  disabled: SimUser[];
  added: SimUser[];
}

const NEW_PEOPLE = [
  ["Siobhán", "Ó Briain", "siobhan.obriain"],
  ["Björn", "Ångström", "bjorn.angstrom"],
  ["Ngozi", "Okonkwo-Adébáyọ̀", "ngozi.okonkwo"],
  ["Mei", "王", "mei.wang"],
] as const;

/** Renames a few enabled members, disables a few others, adds a few new people. */
export function changeTenant(tenant: SimTenant): TenantChanges {
  const members = [...tenant.users()].filter((u) => u.accountEnabled && u.userType === "Member" && u.mail);
  const renamed = members.slice(10, 15).map((user, i) =>
    tenant.updateUser(user.id, {
      surname: `${user.surname}-Lefèvre`,
      displayName: `${user.givenName} ${user.surname}-Lefèvre${i === 0 ? " (Sales)" : ""}`,
    }),
  );
  const disabled = members.slice(20, 23).map((user) => tenant.disableUser(user.id));
  const added = NEW_PEOPLE.map(([givenName, surname, local]) =>
    tenant.addUser({
      givenName,
      surname,
      displayName: `${givenName} ${surname}`,
      mail: `${local}@${tenant.domain}`,
      userPrincipalName: `${local}@${tenant.domain}`,
      accountEnabled: true,
      userType: "Member",
    }),
  );
  return { renamed, disabled, added };
}
