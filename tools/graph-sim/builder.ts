/** Named fixture builders for simulated tenants: `aTenant().withUsers(5000).withGuests(50).build()`. */
import type { CustomerTraits } from "./customer";
import { SimTenant, type TenantSpec } from "./tenant";

export interface TenantOptions {
  users?: number;
  seed?: number;
  guests?: number;
  disabled?: number;
  withoutMail?: number;
  groups?: number;
  domain?: string;
  /** A customer tenant (External ID, B2C): see customer.ts. */
  customer?: CustomerTraits;
}

export function makeTenant(options: TenantOptions = {}): SimTenant {
  const spec: TenantSpec = {
    users: options.users ?? 25,
    seed: options.seed ?? 1,
    guests: options.guests ?? 0,
    disabled: options.disabled ?? 0,
    withoutMail: options.withoutMail ?? 0,
    groups: options.groups ?? 0,
    domain: options.domain ?? (options.customer ? "contosocustomers.onmicrosoft.com" : "contoso.onmicrosoft.com"),
    ...(options.customer ? { customer: options.customer } : {}),
  };
  return new SimTenant(spec);
}

export class TenantBuilder {
  private readonly options: TenantOptions = {};
  withUsers(n: number): this {
    this.options.users = n;
    return this;
  }
  withSeed(seed: number): this {
    this.options.seed = seed;
    return this;
  }
  withGuests(n: number): this {
    this.options.guests = n;
    return this;
  }
  withDisabled(n: number): this {
    this.options.disabled = n;
    return this;
  }
  withoutMail(n: number): this {
    this.options.withoutMail = n;
    return this;
  }
  withGroups(n: number): this {
    this.options.groups = n;
    return this;
  }
  /** A customer tenant with `social` social-provider and `userNames` user-name accounts. */
  asCustomerTenant(traits: Partial<CustomerTraits> = {}): this {
    this.options.customer = { social: traits.social ?? 0, userNames: traits.userNames ?? 0 };
    return this;
  }
  build(): SimTenant {
    return makeTenant(this.options);
  }
}

export function aTenant(): TenantBuilder {
  return new TenantBuilder();
}
