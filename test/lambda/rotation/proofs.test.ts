import { describe, expect, it } from 'vitest';
import { ProvenVersions } from '../../../lambda/rotation/proofs.js';

describe('ProvenVersions', () => {
  it('holds a proof per secret and token, and nothing for another of either', () => {
    const proofs = new ProvenVersions();
    proofs.add('arn:a', 't1');
    expect(proofs.has('arn:a', 't1')).toBe(true);
    expect(proofs.has('arn:a', 't2')).toBe(false);
    expect(proofs.has('arn:b', 't1')).toBe(false);
  });

  it('cannot be fooled by ids that join into the same text', () => {
    const proofs = new ProvenVersions();
    proofs.add('arn:a', 'b:t');
    expect(proofs.has('arn:a:b', 't')).toBe(false);
  });

  it('forgets the oldest proofs beyond its capacity, keeping recent ones', () => {
    const proofs = new ProvenVersions();
    for (let i = 0; i < 300; i++) proofs.add('arn', `t${i}`);
    expect(proofs.has('arn', 't0')).toBe(false);
    expect(proofs.has('arn', 't299')).toBe(true);
    expect(proofs.has('arn', 't50')).toBe(true);
  });
});
