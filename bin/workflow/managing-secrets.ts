/**
 * Which secrets already manage a user on a server, whoever created them:
 * `adopt` must not take over a user another secret rotates or holds the
 * password of, or that secret's next rotation fails and its applications
 * are locked out.
 *
 * Every secret in the account and region is listed (ListSecrets, all pages;
 * secrets scheduled for deletion are left out, as ListSecrets leaves them
 * out: they manage nothing until restored) and every version that holds a
 * staging label read (AWSCURRENT, AWSPENDING, AWSPREVIOUS: a rotation in
 * flight, or alternating users, change a user only those name).
 * Decisions rest on proven facts only:
 *
 * - A value the function's own parser accepts names a server by `host` and
 *   `port`; it is on this server when those equal the admin secret's, as
 *   the function compares them ({@link differingFields}), with the host
 *   compared as a DNS name (case and a final dot do not make another
 *   server, RFC 4343), or when, on the same port, both hosts resolve to a
 *   shared address here (`localhost` and `127.0.0.1`). Another port, or a
 *   host whose addresses share none with this one, is another server, as
 *   the function takes it; a host this machine cannot resolve (a private
 *   zone) on the same port is `unknown-server`, refused like a match.
 *   `dbname` is not compared: roles belong to the whole server.
 * - A JSON object with a `username` but no usable server (an RDS-managed
 *   master secret holds only `username` and `password`; or a `host`
 *   equal to this one with a port or engine the parser refuses) names the
 *   user on a server adopt cannot tell: `unknown-server`, refused like a
 *   match, never ignored.
 * - A JSON object without a string `username` is not a database user's
 *   secret (AWS's JSON structure for database credentials names the user
 *   `username`) and is passed over.
 * - Our own tags (`scram-rotator:username`, `scram-rotator:server`) prove a
 *   match even when the value cannot be read.
 * - A value that cannot be read (AccessDenied, a KMS decrypt failure) or
 *   cannot be parsed (binary, not a JSON object) is unknown: it is listed
 *   as unreadable, and the caller refuses unless told to go on without it.
 *
 * User names are compared as the server stores them (the engine's
 * {@link Engine.foldRoleName}: exact on PostgreSQL, folded on CockroachDB),
 * never trimmed.
 *
 * Nothing here returns or prints a secret value: only names, ARNs, user
 * names, error names and which rule decided.
 *
 * @module
 */
import { lookup } from 'node:dns/promises';
import {
  GetSecretValueCommand,
  ListSecretsCommand,
  type SecretListEntry,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  type DatabaseSecret,
  differingFields,
  parseDatabaseSecret,
} from '../../lambda/core/secret.js';
import type { Engine } from '../../lambda/engines/engine.js';
import { MalformedSecretError } from '../../lambda/errors.js';
import { serverTag, TAGS } from './common.js';

/** The fields that say which server a secret's user lives on. */
const SERVER_FIELDS = ['host', 'port'] as const;

/** How many secret values are read at once. */
const READ_CONCURRENCY = 8;

/** Tags RDS puts on the master secret it manages (ManageMasterUserPassword). */
const RDS_TAGS = ['aws:rds:primaryDBInstanceArn', 'aws:rds:primaryDBClusterArn'] as const;

/** The ARN an {@link UnreadableSecret} has when ListSecrets itself failed: every secret is unknown. */
export const EVERY_SECRET = '*';

/** A secret that names a user on this server, or on a server adopt cannot tell. */
export interface UserClaim {
  readonly arn: string;
  readonly name: string;
  /** The service that created it (`rds` for an RDS-managed master secret). */
  readonly owningService?: string | undefined;
  /** The user as the secret names it. */
  readonly username: string;
  /** `same-server`: proven; `unknown-server`: it names the user, its server cannot be told. */
  readonly server: 'same-server' | 'unknown-server';
  /** What proved it, for the report: never a value. */
  readonly basis: string;
}

/** A secret whose value adopt could not read or parse. */
export interface UnreadableSecret {
  readonly arn: string;
  readonly name: string;
  readonly reason: string;
}

/** What {@link surveySecrets} found. */
export interface SecretSurvey {
  readonly claims: readonly UserClaim[];
  /** Secrets that may name any user: unknown, never "none". */
  readonly unreadable: readonly UnreadableSecret[];
}

/** A host as a DNS name: case-insensitive, a final dot changes nothing. */
function dnsForm<S extends Pick<DatabaseSecret, 'host' | 'port'>>(secret: S): S {
  return { ...secret, host: secret.host.toLowerCase().replace(/\.$/, '') };
}

/** A host's addresses as this machine resolves them; none when it cannot. */
export type Resolver = (host: string) => Promise<ReadonlySet<string>>;

/** A {@link Resolver} that asks each host once. */
function cachedResolver(): Resolver {
  const seen = new Map<string, Promise<ReadonlySet<string>>>();
  return (host) => {
    let found = seen.get(host);
    if (found === undefined) {
      found = lookup(host, { all: true }).then(
        (addresses) => new Set(addresses.map((a) => a.address)),
        () => new Set<string>(),
      );
      seen.set(host, found);
    }
    return found;
  };
}

/** What comparing two servers proved: one, two, or nothing either way. */
type Sameness = 'same' | 'different' | 'unknown';

/**
 * Whether two hosts are one: the same DNS name, or names of a shared
 * address. Two names of which this machine cannot resolve one (a private
 * zone, a CNAME only the VPC sees) are `unknown`, never `different`: that
 * they differ as strings proves nothing about the server behind them.
 */
async function sameHost(a: string, b: string, resolve: Resolver): Promise<Sameness> {
  const [x, y] = [dnsForm({ host: a, port: 0 }).host, dnsForm({ host: b, port: 0 }).host];
  if (x === y) return 'same';
  const [ax, ay] = await Promise.all([resolve(x), resolve(y)]);
  if (ax.size === 0 || ay.size === 0) return 'unknown';
  return [...ax].some((address) => ay.has(address)) ? 'same' : 'different';
}

/** Whether a parsed secret names the admin's server (host and port). */
async function onServer(
  candidate: DatabaseSecret,
  server: DatabaseSecret,
  resolve: Resolver,
): Promise<Sameness> {
  if (differingFields(dnsForm(candidate), dnsForm(server), SERVER_FIELDS).length === 0) {
    return 'same';
  }
  if (differingFields(candidate, server, ['port']).length > 0) return 'different';
  return sameHost(candidate.host, server.host, resolve);
}

/** The owning service and RDS instance or cluster of a listed secret, for the report. */
function ownerNote(entry: SecretListEntry): string {
  const rds = entry.Tags?.find((tag) => (RDS_TAGS as readonly string[]).includes(tag.Key ?? ''));
  if (rds) return `, managed by RDS for ${rds.Value}`;
  return entry.OwningService ? `, owned by ${entry.OwningService}` : '';
}

/** What one version's value says, as claims or unreadable. */
type Reading =
  | { readonly kind: 'claim'; readonly claim: Omit<UserClaim, 'arn' | 'name' | 'owningService'> }
  | { readonly kind: 'other' }
  | { readonly kind: 'unreadable'; readonly reason: string };

/** Classifies one secret string; see the module comment for the rules. */
async function readValue(
  text: string,
  server: DatabaseSecret,
  note: string,
  resolve: Resolver,
): Promise<Reading> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return {
      kind: 'unreadable',
      reason: 'its value is not JSON, so adopt cannot tell what it holds',
    };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return {
      kind: 'unreadable',
      reason: 'its value is not a JSON object, so adopt cannot tell what it holds',
    };
  }
  const object = raw as Record<string, unknown>;
  if (typeof object.username !== 'string') return { kind: 'other' };
  const username = object.username;
  let parsed: DatabaseSecret;
  try {
    parsed = parseDatabaseSecret(text, { label: 'candidate' });
  } catch (error) {
    if (!(error instanceof MalformedSecretError)) throw error;
    const host = object.host;
    if (typeof host === 'string' && (await sameHost(host, server.host, resolve)) === 'different') {
      // Another host, as the function would compare it: another server.
      return { kind: 'other' };
    }
    const why =
      host === undefined
        ? 'its value names no host'
        : `its value's ${error.key} is not one the function reads`;
    return {
      kind: 'claim',
      claim: {
        username,
        server: 'unknown-server',
        basis: `${why}, so adopt cannot tell which server it is on${note}`,
      },
    };
  }
  const sameness = await onServer(parsed, server, resolve);
  if (sameness === 'different') return { kind: 'other' };
  return {
    kind: 'claim',
    claim:
      sameness === 'same'
        ? { username, server: 'same-server', basis: `its value names ${serverTag(parsed)}${note}` }
        : {
            username,
            server: 'unknown-server',
            basis: `its value names ${serverTag(parsed)}, a host this machine cannot resolve, so adopt cannot tell whether it is this server${note}`,
          },
  };
}

/** Reads one listed secret: its tags, then each labelled version's value. */
async function survey(
  client: SecretsManagerClient,
  entry: SecretListEntry,
  server: DatabaseSecret,
  resolve: Resolver,
): Promise<{ claims: UserClaim[]; unreadable?: UnreadableSecret }> {
  const arn = entry.ARN ?? entry.Name ?? '';
  const name = entry.Name ?? arn;
  const note = ownerNote(entry);
  const of = (claim: Omit<UserClaim, 'arn' | 'name' | 'owningService'>): UserClaim => ({
    arn,
    name,
    owningService: entry.OwningService,
    ...claim,
  });
  const claims: UserClaim[] = [];
  const tag = (key: string) => entry.Tags?.find((t) => t.Key === key)?.Value;
  const taggedUser = tag(TAGS.username);
  const taggedServer = tag(TAGS.server);
  if (
    taggedUser !== undefined &&
    taggedServer !== undefined &&
    taggedServer.toLowerCase() === serverTag(dnsForm(server))
  ) {
    claims.push(
      of({ username: taggedUser, server: 'same-server', basis: `tagged ${TAGS.username}` }),
    );
  }
  // Every labelled version, not only AWSCURRENT: a rotation in flight
  // (AWSPENDING) or alternating users (AWSPREVIOUS names the other one)
  // set the password of a user AWSCURRENT does not name.
  const versions = Object.entries(entry.SecretVersionsToStages ?? {})
    .filter(([, stages]) => stages.length > 0)
    .map(([id]) => id);
  const reads = versions.length > 0 ? versions : [undefined];
  for (const versionId of reads) {
    let text: string | undefined;
    try {
      const out = await client.send(
        new GetSecretValueCommand({
          SecretId: arn,
          ...(versionId === undefined ? {} : { VersionId: versionId }),
        }),
      );
      text = out.SecretString;
      if (text === undefined) {
        return {
          claims,
          unreadable: {
            arn,
            name,
            reason: 'it holds a binary value, so adopt cannot tell what it holds',
          },
        };
      }
    } catch (error) {
      const type = (error as Error).name;
      // Deleted since it was listed, or that version since: it manages nothing.
      if (type === 'ResourceNotFoundException') continue;
      return {
        claims,
        unreadable: {
          arn,
          name,
          reason: `GetSecretValue answered ${type}${type === 'DecryptionFailure' || type.startsWith('KMS') ? ' (its KMS key)' : ''}`,
        },
      };
    }
    const reading = await readValue(text, server, note, resolve);
    if (reading.kind === 'unreadable')
      return { claims, unreadable: { arn, name, reason: reading.reason } };
    if (reading.kind === 'claim' && !claims.some((c) => c.username === reading.claim.username)) {
      claims.push(of(reading.claim));
    }
  }
  return { claims };
}

/**
 * Lists every secret (all pages) and reads each one's labelled versions to
 * find which users on `server` they name. A ListSecrets that fails makes
 * the whole account unreadable.
 *
 * @param server - the admin secret: its host and port name the server
 * @param resolve - a host's addresses; default: this machine's resolver
 *   (`dns.lookup`), each host asked once
 */
export async function surveySecrets(
  client: SecretsManagerClient,
  server: DatabaseSecret,
  resolve: Resolver = cachedResolver(),
): Promise<SecretSurvey> {
  const entries: SecretListEntry[] = [];
  try {
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListSecretsCommand({ MaxResults: 100, ...(token ? { NextToken: token } : {}) }),
      );
      entries.push(...(page.SecretList ?? []));
      token = page.NextToken;
    } while (token);
  } catch (error) {
    return {
      claims: [],
      unreadable: [
        {
          arn: EVERY_SECRET,
          name: 'every secret',
          reason: `ListSecrets answered ${(error as Error).name}`,
        },
      ],
    };
  }
  const claims: UserClaim[] = [];
  const unreadable: UnreadableSecret[] = [];
  for (let i = 0; i < entries.length; i += READ_CONCURRENCY) {
    const batch = entries.slice(i, i + READ_CONCURRENCY);
    for (const found of await Promise.all(batch.map((e) => survey(client, e, server, resolve)))) {
      claims.push(...found.claims);
      if (found.unreadable) unreadable.push(found.unreadable);
    }
  }
  return { claims, unreadable };
}

/** The claims on `user`, as the server stores names (never trimmed). */
export function claimsOn(
  found: SecretSurvey,
  user: string,
  engine: Pick<Engine, 'foldRoleName'>,
): UserClaim[] {
  return found.claims.filter((claim) => engine.foldRoleName(claim.username) === user);
}
