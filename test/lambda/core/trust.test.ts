import { describe, expect, it } from 'vitest';
import { chooseTrust } from '../../../lambda/core/trust.js';

const SECRET_CA = '-----BEGIN CERTIFICATE-----\nSECRET\n-----END CERTIFICATE-----\n';
const BUNDLE = '-----BEGIN CERTIFICATE-----\nBUNDLE\n-----END CERTIFICATE-----\n';
const RUNTIME = '-----BEGIN CERTIFICATE-----\nRUNTIME\n-----END CERTIFICATE-----\n';

describe('chooseTrust', () => {
  it("trusts the secret's ca alone, even when both bundles exist", () => {
    expect(chooseTrust(SECRET_CA, { caBundle: BUNDLE, runtimeCaBundle: RUNTIME })).toEqual({
      source: 'secret-ca',
      ca: SECRET_CA,
    });
  });

  it('trusts CA_BUNDLE_PATH alone when the secret has no ca, the runtime bundle not added', () => {
    expect(chooseTrust(undefined, { caBundle: BUNDLE, runtimeCaBundle: RUNTIME })).toEqual({
      source: 'ca-bundle-path',
      ca: BUNDLE,
    });
  });

  it("adds the runtime bundle to Node's roots when nothing narrows trust", () => {
    expect(chooseTrust(undefined, { caBundle: undefined, runtimeCaBundle: RUNTIME })).toEqual({
      source: 'runtime-bundle',
      extraCa: RUNTIME,
    });
  });

  it("falls to Node's roots alone where there is no runtime bundle", () => {
    expect(chooseTrust(undefined, { caBundle: undefined, runtimeCaBundle: undefined })).toEqual({
      source: 'node-roots',
    });
  });
});
