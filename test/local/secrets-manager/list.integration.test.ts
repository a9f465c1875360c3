import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
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
