/**
 * The double's cluster-wide state: its cluster settings, the global
 * privileges it grants (CockroachDB's `GRANT SYSTEM ...`, which PostgreSQL
 * has no equivalent for), and the log of what it did.
 *
 * @module
 */
import {
  SETTING_DEFINITIONS,
  type SettingType,
  type SettingValue,
  type SystemPrivilege,
  settingTypeOf,
} from './behaviours.js';

/**
 * The cluster settings, starting from CockroachDB's defaults. Changed by
 * tests directly or by `SET CLUSTER SETTING` through the double; read by
 * `SHOW CLUSTER SETTING`, `crdb_internal.cluster_settings` and the behaviours
 * that depend on them.
 */
export class ClusterSettings {
  readonly #values = new Map<string, SettingValue>();
  readonly #types = new Map<string, SettingType>();

  /** @internal */
  constructor(overrides: Readonly<Record<string, SettingValue>> = {}) {
    for (const [name, definition] of Object.entries(SETTING_DEFINITIONS)) {
      this.#values.set(name, definition.defaultValue);
      this.#types.set(name, definition.type);
    }
    for (const [name, value] of Object.entries(overrides)) this.set(name, value);
  }

  /** Whether the double knows the setting. */
  has(name: string): boolean {
    return this.#values.has(name);
  }

  /** A setting's value; throws for a setting the double does not know. */
  get(name: string): SettingValue {
    const value = this.#values.get(name);
    if (value === undefined) throw new Error(`cockroach double: unknown cluster setting ${name}`);
    return value;
  }

  /** A boolean setting's value. */
  bool(name: string): boolean {
    return this.get(name) === true;
  }

  /** An integer setting's value. */
  int(name: string): number {
    return Number(this.get(name));
  }

  /** A string or enum setting's value. */
  string(name: string): string {
    return String(this.get(name));
  }

  /** The setting's CockroachDB type letter (b, i, s, e). */
  typeOf(name: string): SettingType {
    return this.#types.get(name) ?? 's';
  }

  /**
   * Sets a value (as `SET CLUSTER SETTING` does). A setting the double does
   * not define is added, typed from the value.
   */
  set(name: string, value: SettingValue): void {
    const type = this.#types.get(name) ?? settingTypeOf(name, value);
    const ok =
      (type === 'b' && typeof value === 'boolean') ||
      (type === 'i' && typeof value === 'number' && Number.isSafeInteger(value)) ||
      ((type === 's' || type === 'e') && typeof value === 'string');
    if (!ok)
      throw new Error(`cockroach double: ${name} takes a ${type} value, not ${String(value)}`);
    this.#types.set(name, type);
    this.#values.set(name, value);
  }

  /** Back to CockroachDB's default (`RESET CLUSTER SETTING`). */
  reset(name: string): void {
    const definition = SETTING_DEFINITIONS[name];
    if (definition) this.#values.set(name, definition.defaultValue);
    else {
      this.#values.delete(name);
      this.#types.delete(name);
    }
  }

  /** Every setting, sorted by name. */
  entries(): [string, SettingValue][] {
    return [...this.#values.entries()].sort(([a], [b]) => a.localeCompare(b));
  }
}

/** Global privileges granted through the double (CockroachDB `GRANT SYSTEM`). */
export class SystemPrivileges {
  readonly #grants = new Map<string, Set<SystemPrivilege>>();

  /** @internal */
  constructor(initial: Readonly<Record<string, readonly SystemPrivilege[]>> = {}) {
    for (const [user, privileges] of Object.entries(initial)) this.grant(user, ...privileges);
  }

  /** Grants privileges to a user or role. */
  grant(user: string, ...privileges: SystemPrivilege[]): void {
    const set = this.#grants.get(user) ?? new Set<SystemPrivilege>();
    for (const p of privileges) set.add(p);
    this.#grants.set(user, set);
  }

  /** Revokes privileges. */
  revoke(user: string, ...privileges: SystemPrivilege[]): void {
    const set = this.#grants.get(user);
    for (const p of privileges) set?.delete(p);
  }

  /** What a user holds through grants (not counting admin or role options). */
  of(user: string): ReadonlySet<SystemPrivilege> {
    return new Set(this.#grants.get(user) ?? []);
  }
}

/**
 * Stored password hashes that the backing PostgreSQL cannot hold the way
 * CockroachDB holds them: bcrypt hashes (clusters from before v22.2, or
 * `password_encryption = crdb-bcrypt`) and strings CockroachDB stored as
 * SCRAM hashes whose base64 does not decode. PostgreSQL keeps no password
 * for such a role; logins and `system.users` read this instead.
 */
export class CockroachOnlyHashes {
  readonly #hashes = new Map<string, string>();

  /** The hash kept for a role, if any. */
  get(role: string): string | undefined {
    return this.#hashes.get(role);
  }

  /** Keeps `hash` for `role`, or forgets it (`undefined`). */
  set(role: string, hash: string | undefined): void {
    if (hash === undefined) this.#hashes.delete(role);
    else this.#hashes.set(role, hash);
  }
}

/** Something the double did, for tests to inspect. Verifiers stay in memory only. */
export type DoubleEvent = { readonly at: Date } & (
  | {
      readonly type: 'connection-refused';
      readonly user?: string;
      readonly code: string;
      readonly message: string;
    }
  | {
      readonly type: 'login';
      readonly user: string;
      readonly database: string;
      /** What the client was asked for. */
      readonly exchange: 'scram' | 'cleartext' | 'trust';
      readonly clusterId?: string;
    }
  | {
      readonly type: 'login-failed';
      readonly user: string;
      readonly exchange: 'scram' | 'cleartext';
      readonly code: string;
      readonly message: string;
    }
  | {
      /** CockroachDB re-hashed a password it received in cleartext at login. */
      readonly type: 'password-rehashed';
      readonly user: string;
      readonly fromIterations: number;
      readonly toIterations: number;
    }
  | {
      /**
       * CockroachDB converted a stored hash after a cleartext login: bcrypt
       * upgraded to SCRAM, or SCRAM downgraded to bcrypt.
       */
      readonly type: 'password-converted';
      readonly user: string;
      readonly from: 'bcrypt' | 'scram';
      readonly to: 'bcrypt' | 'scram';
    }
  | {
      readonly type: 'create-role';
      readonly user: string;
      readonly target: string;
      readonly outcome: 'created' | 'refused' | 'ignored';
      readonly storedAs?: 'pre-hashed' | 'cleartext' | 'none';
      readonly code?: string;
      readonly message?: string;
    }
  | {
      readonly type: 'alter-password';
      readonly user: string;
      readonly target: string;
      readonly outcome: 'stored' | 'refused' | 'ignored';
      /** How it was stored: as the verifier sent, hashed as a cleartext password, or cleared. */
      readonly storedAs?: 'pre-hashed' | 'cleartext' | 'null';
      /** The string in the statement (a verifier, or whatever was sent). */
      readonly password?: string | null;
      /** What the backing PostgreSQL was asked to store. */
      readonly stored?: string | null;
      readonly code?: string;
      readonly message?: string;
    }
  | {
      readonly type: 'cluster-setting';
      readonly user: string;
      readonly action: 'show' | 'set' | 'reset' | 'read-table';
      readonly name: string;
      readonly value?: string;
      readonly code?: string;
      readonly message?: string;
    }
  | {
      readonly type: 'system-users-read' | 'hash-format-check' | 'system-privilege';
      readonly user: string;
      readonly detail?: string;
      readonly code?: string;
      readonly message?: string;
    }
  | {
      readonly type: 'statement-refused';
      readonly user: string;
      readonly code: string;
      readonly message: string;
    }
  | {
      /** A role statement answered by CockroachDB's rules (roles.ts). */
      readonly type: 'role-statement';
      readonly user: string;
      readonly statement: string;
      readonly detail?: string;
      readonly code?: string;
      readonly message?: string;
    }
);

/** Distributes `Omit` over the event union, so `record` checks each variant. */
export type NewDoubleEvent = DoubleEvent extends infer E
  ? E extends DoubleEvent
    ? Omit<E, 'at'>
    : never
  : never;
