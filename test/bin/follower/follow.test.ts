import { describe, expect, it } from 'vitest';
import { SteppedClock } from '../../../bin/follower/follow.js';

/** Lets every settled promise's callbacks run. */
const drain = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('SteppedClock', () => {
  it('moves time only once every client waits for its next login', async () => {
    const clock = new SteppedClock(2, 20);
    let slept = false;
    const sleeping = clock.sleep(40).then(() => {
      slept = true;
    });
    await drain();
    expect(clock.now()).toBe(0); // neither client has made its login yet

    const first = clock.nextLogin();
    await drain();
    expect(clock.now()).toBe(0); // one of two

    const second = clock.nextLogin();
    await Promise.all([first, second]);
    expect(clock.now()).toBe(20);
    expect(slept).toBe(false); // the second step waits for both clients again

    await Promise.all([clock.nextLogin(), clock.nextLogin()]);
    expect(clock.now()).toBe(40);
    await drain();
    expect(slept).toBe(false); // nor does a rotation start before their logins at 40 ms

    void clock.nextLogin();
    void clock.nextLogin();
    await sleeping;
    expect(clock.now()).toBe(40);
  });

  it('makes the rotations wait for the clients even when no time is to pass', async () => {
    const clock = new SteppedClock(1, 20);
    let settled = false;
    const sleeping = clock.sleep(0).then(() => {
      settled = true;
    });
    await drain();
    expect(settled).toBe(false);
    void clock.nextLogin();
    await sleeping;
    expect(clock.now()).toBe(0);
  });

  it('steps no further than asked, and goes on without a client that left', async () => {
    const clock = new SteppedClock(2, 20);
    const seen: number[] = [];
    const client = async () => {
      for (let login = 0; login < 3; login++) {
        seen.push(clock.now());
        await clock.nextLogin();
      }
    };
    const running = client();
    clock.leave(); // the other client
    await clock.sleep(30);
    clock.stop();
    await running;
    expect(seen).toEqual([0, 20, 30]);
  });

  it('releases every waiting client when the run stops', async () => {
    const clock = new SteppedClock(2, 20);
    const waiting = clock.nextLogin();
    clock.stop();
    await waiting;
    await clock.nextLogin();
    expect(clock.now()).toBe(0);
  });
});
