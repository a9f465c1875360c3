import { randomUUID } from 'node:crypto';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  type SecretsManagerClient,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSecretsManagerClient,
  SecretsManagerEndpoint,
} from '../../../local/secrets-manager/index.js';
import { caught, uniqueName } from './helpers.js';

/**
 * ListSecrets and TagResource, as the audit and the workflow commands use
 * them: tag filters, prefix matching, negation, paging, no values.
 */

let endpoint: SecretsManagerEndpoint;
let client: SecretsManagerClient;

beforeAll(async () => {
  endpoint = await SecretsManagerEndpoint.start();
  client = createSecretsManagerClient(endpoint);
});

afterAll(async () => {
  client?.destroy();
  await endpoint?.stop();
});

describe('ListSecrets', () => {
  it('filters by tag key and value prefixes, negates with !, and never returns a value', async () => {
    const team = uniqueName('team');
    const names = [uniqueName('list-a'), uniqueName('list-b'), uniqueName('list-c')];
    for (const [index, name] of names.entries()) {
      await client.send(
        new CreateSecretCommand({
          Name: name,
          SecretString: 'do-not-list-me',
          Tags: [
            { Key: 'owner', Value: team },
            { Key: 'tier', Value: index === 2 ? 'gold' : 'silver' },
          ],
        }),
      );
    }
    const listed = await client.send(
      new ListSecretsCommand({
        Filters: [
          { Key: 'tag-key', Values: ['owner'] },
          { Key: 'tag-value', Values: [team] },
        ],
      }),
    );
    expect(listed.SecretList?.map((s) => s.Name)).toEqual([...names].sort());
    expect(JSON.stringify(listed)).not.toContain('do-not-list-me');
    expect(listed.SecretList?.[0]?.Tags).toContainEqual({ Key: 'owner', Value: team });
    const notGold = await client.send(
      new ListSecretsCommand({
        Filters: [
          { Key: 'tag-value', Values: [team] },
          { Key: 'tag-value', Values: ['!gold'] },
        ],
      }),
    );
    expect(notGold.SecretList?.map((s) => s.Name)).toEqual([names[0], names[1]].sort());
  });

  it('pages with MaxResults and NextToken, and leaves out deleted secrets unless asked', async () => {
    const prefix = uniqueName('page');
    for (const suffix of ['1', '2', '3']) {
      await client.send(
        new CreateSecretCommand({ Name: `${prefix}-${suffix}`, SecretString: 'x' }),
      );
    }
    const first = await client.send(
      new ListSecretsCommand({ MaxResults: 2, Filters: [{ Key: 'name', Values: [prefix] }] }),
    );
    expect(first.SecretList).toHaveLength(2);
    const second = await client.send(
      new ListSecretsCommand({
        MaxResults: 2,
        NextToken: first.NextToken,
        Filters: [{ Key: 'name', Values: [prefix] }],
      }),
    );
    expect(second.SecretList?.map((s) => s.Name)).toEqual([`${prefix}-3`]);
    expect(second.NextToken).toBeUndefined();
    await client.send(new DeleteSecretCommand({ SecretId: `${prefix}-3` }));
    const live = await client.send(
      new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [prefix] }] }),
    );
    expect(live.SecretList).toHaveLength(2);
    const all = await client.send(
      new ListSecretsCommand({
        IncludePlannedDeletion: true,
        Filters: [{ Key: 'name', Values: [prefix] }],
      }),
    );
    expect(all.SecretList).toHaveLength(3);
  });

  it('shows OwningService on a secret RDS created for itself, filters by owning-service, and reads it by its rds! name (API reference: SecretListEntry, Filter)', async () => {
    const id = randomUUID();
    const instance = `arn:aws:rds:us-east-1:123456789012:db:${uniqueName('db')}`;
    const arn = endpoint.createServiceSecret({
      name: `rds!db-${id}`,
      owningService: 'rds',
      secretString: '{"username":"postgres","password":"not-listed"}',
      description: `Secret associated with primary RDS DB instance: ${instance}`,
      tags: [
        { Key: 'aws:rds:primaryDBInstanceArn', Value: instance },
        { Key: 'aws:secretsmanager:owningService', Value: 'rds' },
      ],
    });
    const ours = uniqueName('customer');
    await client.send(new CreateSecretCommand({ Name: ours, SecretString: 'x' }));
    const byService = await client.send(
      new ListSecretsCommand({ Filters: [{ Key: 'owning-service', Values: ['rds'] }] }),
    );
    expect(byService.SecretList?.map((s) => [s.ARN, s.OwningService])).toEqual([[arn, 'rds']]);
    expect(byService.SecretList?.[0]?.Tags).toContainEqual({
      Key: 'aws:rds:primaryDBInstanceArn',
      Value: instance,
    });
    expect(JSON.stringify(byService)).not.toContain('not-listed');
    const notService = await client.send(
      new ListSecretsCommand({ Filters: [{ Key: 'owning-service', Values: ['!rds'] }] }),
    );
    expect(notService.SecretList?.map((s) => s.ARN)).not.toContain(arn);
    expect(notService.SecretList?.find((s) => s.Name === ours)?.OwningService).toBeUndefined();
    const read = await client.send(new GetSecretValueCommand({ SecretId: `rds!db-${id}` }));
    expect(read.ARN).toBe(arn);
    expect((await client.send(new DescribeSecretCommand({ SecretId: arn }))).OwningService).toBe(
      'rds',
    );
    // A customer cannot create such a name.
    const refused = await caught(
      client.send(new CreateSecretCommand({ Name: `rds!db-${randomUUID()}`, SecretString: 'x' })),
    );
    expect(refused.name).toBe('ValidationException');
  });

  it('matches description prefixes without regard to case, and names case-sensitively (API reference: Filter)', async () => {
    const name = uniqueName('Described');
    const marker = uniqueName('Marker');
    await client.send(
      new CreateSecretCommand({ Name: name, SecretString: 'x', Description: `${marker} db` }),
    );
    const byDescription = await client.send(
      new ListSecretsCommand({
        Filters: [{ Key: 'description', Values: [marker.toLowerCase()] }],
      }),
    );
    expect(byDescription.SecretList?.map((s) => s.Name)).toEqual([name]);
    const byName = await client.send(
      new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [name.toLowerCase()] }] }),
    );
    expect(byName.SecretList).toEqual([]);
  });

  it('refuses an unknown filter key', async () => {
    const error = await caught(
      client.send(
        new ListSecretsCommand({ Filters: [{ Key: 'colour' as 'name', Values: ['x'] }] }),
      ),
    );
    expect(error.name).toBe('ValidationException');
  });
});

describe('TagResource', () => {
  it('adds tags and replaces the value of an existing key', async () => {
    const name = uniqueName('tagged');
    await client.send(
      new CreateSecretCommand({ Name: name, SecretString: 'x', Tags: [{ Key: 'a', Value: '1' }] }),
    );
    await client.send(
      new TagResourceCommand({
        SecretId: name,
        Tags: [
          { Key: 'a', Value: '2' },
          { Key: 'b', Value: '3' },
        ],
      }),
    );
    const described = await client.send(new DescribeSecretCommand({ SecretId: name }));
    expect(described.Tags).toEqual([
      { Key: 'a', Value: '2' },
      { Key: 'b', Value: '3' },
    ]);
    const missing = await caught(
      client.send(new TagResourceCommand({ SecretId: uniqueName('nope'), Tags: [] })),
    );
    expect(missing.name).toBe('ResourceNotFoundException');
  });
});
