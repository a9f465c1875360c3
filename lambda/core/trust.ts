/**
 * Which CAs a login trusts. Every login is verify-full whichever store is
 * chosen; the choice only says which certificate authorities may sign the
 * server's certificate. The first that applies wins, and none is merged
 * with another:
 *
 * 1. `secret-ca`: the secret's `ca` key (an admin secret without one uses
 *    the rotated secret's): exactly those CAs;
 * 2. `ca-bundle-path`: the PEM file of `CA_BUNDLE_PATH`: exactly those CAs;
 * 3. `runtime-bundle`: where the Lambda runtime's bundle exists
 *    (`/var/runtime/ca-cert.pem`, Amazon's CAs with the RDS ones), it and
 *    Node's bundled roots;
 * 4. `node-roots`: Node's bundled roots (Mozilla's list) alone.
 *
 * @module
 */

/** The trust stores, by what `doctor` calls them. */
export const TRUST_SOURCES = {
  'secret-ca': "the secret's ca key",
  'ca-bundle-path': 'CA_BUNDLE_PATH',
  'runtime-bundle': "the Lambda runtime's CA bundle and Node's bundled roots",
  'node-roots': "Node's bundled roots",
} as const;

/** One of {@link TRUST_SOURCES}. */
export type TrustSource = keyof typeof TRUST_SOURCES;

/** The CA bundles the configuration holds (see `RotationConfig`). */
export interface TrustConfig {
  readonly caBundle: string | undefined;
  readonly runtimeCaBundle: string | undefined;
}

/** What a login trusts, as the connector takes it. */
export type TrustChoice =
  | {
      readonly source: 'secret-ca' | 'ca-bundle-path';
      /** Trusted alone. */
      readonly ca: string;
    }
  | {
      readonly source: 'runtime-bundle';
      /** Trusted together with Node's bundled roots. */
      readonly extraCa: string;
    }
  | { readonly source: 'node-roots' };

/**
 * The trust store for a login whose secret has `secretCa` (its own, or for
 * an admin secret without one, the rotated secret's).
 *
 * @example
 * ```ts
 * chooseTrust(undefined, { caBundle: undefined, runtimeCaBundle: pem });
 * // { source: 'runtime-bundle', extraCa: pem }
 * ```
 */
export function chooseTrust(secretCa: string | undefined, config: TrustConfig): TrustChoice {
  if (secretCa !== undefined) return { source: 'secret-ca', ca: secretCa };
  if (config.caBundle !== undefined) return { source: 'ca-bundle-path', ca: config.caBundle };
  if (config.runtimeCaBundle !== undefined) {
    return { source: 'runtime-bundle', extraCa: config.runtimeCaBundle };
  }
  return { source: 'node-roots' };
}
