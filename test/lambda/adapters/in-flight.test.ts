import { describe, expect, it } from 'vitest';
import { abortableSleep, InFlight, trackSecretStore } from '../../../lambda/adapters/in-flight.js';
import type { SecretStore } from '../../../lambda/adapters/secrets-manager.js';

describe('InFlight', () => {
  it('names the calls running now, and forgets them once they settle', async () => {
    const flight = new InFlight(new AbortController().signal);
    let finish: () => void = () => undefined;
    const running = flight.run(
      'DescribeSecret',
      () => new Promise<void>((resolve) => (finish = resolve)),
    );
    const failing = flight.run('ALTER USER app', () => Promise.reject(new Error('x')));
    expect(flight.names).toEqual(['DescribeSecret', 'ALTER USER app']);
    await expect(failing).rejects.toThrow('x');
    finish();
    await running;
    expect(flight.names).toEqual([]);
  });

  it('starts nothing once the deadline has fired, except what must still close', async () => {
    const controller = new AbortController();
    const reason = new Error('deadline');
    controller.abort(reason);
    const flight = new InFlight(controller.signal);
    let started = false;
    await expect(flight.run('DescribeSecret', async () => (started = true))).rejects.toBe(reason);
    expect(started).toBe(false);
    await expect(flight.run('closing', async () => 'closed', true)).resolves.toBe('closed');
  });

  it('cuts a pause short when the deadline fires, with its reason', async () => {
    const controller = new AbortController();
    const flight = new InFlight(controller.signal);
    const reason = new Error('deadline');
    const pause = flight.sleep(60_000, 'waiting to retry');
    expect(flight.names).toEqual(['waiting to retry']);
    controller.abort(reason);
    await expect(pause).rejects.toBe(reason);
    await expect(abortableSleep(1)).resolves.toBeUndefined();
  });
});

describe('trackSecretStore', () => {
  it('hands every call the signal and names it by its API operation', async () => {
    const seen: [string, AbortSignal | undefined][] = [];
    const flight = new InFlight(new AbortController().signal);
    const store: SecretStore = {
      describe: async (_id, options) => {
        seen.push([flight.names.join(), options?.signal]);
        return { arn: 'a', name: 'n', rotationEnabled: true, versionIdsToStages: {} };
      },
      getSecretString: async (_id, _version, options) => {
        seen.push([flight.names.join(), options?.signal]);
        return undefined;
      },
      putPending: async (_input, options) => {
        seen.push([flight.names.join(), options?.signal]);
      },
      promoteToCurrent: async (_input, options) => {
        seen.push([flight.names.join(), options?.signal]);
      },
      withdrawPending: async (_input, options) => {
        seen.push([flight.names.join(), options?.signal]);
      },
    };
    const tracked = trackSecretStore(store, flight);
    await tracked.describe('s');
    await tracked.getSecretString('s', { versionId: 't', stage: 'AWSPENDING' });
    await tracked.putPending({ secretId: 's', token: 't', secretString: 'x' });
    await tracked.promoteToCurrent({ secretId: 's', token: 't', fromVersionId: 'o' });
    await tracked.withdrawPending({ secretId: 's', token: 't' });
    expect(seen).toEqual([
      ['DescribeSecret', flight.signal],
      ['GetSecretValue AWSPENDING', flight.signal],
      ['PutSecretValue AWSPENDING', flight.signal],
      ['UpdateSecretVersionStage AWSCURRENT', flight.signal],
      ['UpdateSecretVersionStage AWSPENDING (withdraw)', flight.signal],
    ]);
  });
});
