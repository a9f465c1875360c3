/**
 * The function under test is the bundle that deploys, not the sources:
 * loaded into this process for rotations through RotateSecret, and into
 * fresh processes for cold starts. It reaches the local Secrets Manager
 * endpoint the way it reaches AWS, through the environment.
 *
 * @module
 */
import { pathToFileURL } from 'node:url';
import type { RotationFunction } from '../local/secrets-manager/index.js';

/** A rotation handler as the local endpoint calls it. */
export type FunctionHandler = RotationFunction;

/** What the bundle exports (lambda/index.ts). */
export interface FunctionModule {
  /** The deployed entry point: configuration from the environment. */
  readonly handler: FunctionHandler;
  /** A handler with another environment, as another deployment of the same bundle. */
  readonly createHandler: (deps: {
    readonly env?: Readonly<Record<string, string | undefined>>;
  }) => FunctionHandler;
}

/**
 * The access key the function signs with: the endpoint counts the requests
 * signed with it, and nobody else's (the bench's own calls use another).
 */
export const FUNCTION_ACCESS_KEY = 'SCRAMROTATORBENCHFN';

/** The access key of cold-start processes, kept out of the per-rotation counts. */
export const COLD_START_ACCESS_KEY = 'SCRAMROTATORBENCHCOLD';

/**
 * The environment a deployed function would have, pointed at the local
 * endpoint: region, credentials (the endpoint does not check signatures)
 * and `AWS_ENDPOINT_URL_SECRETS_MANAGER`, which the SDK reads itself.
 */
export function functionEnv(
  endpoint: { readonly url: string; readonly region: string },
  accessKeyId: string,
): Record<string, string> {
  return {
    AWS_REGION: endpoint.region,
    AWS_ACCESS_KEY_ID: accessKeyId,
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint.url,
    AWS_LAMBDA_FUNCTION_NAME: 'scram-rotator-bench',
  };
}

/**
 * Imports the bundle into this process with `env` set, its log lines and
 * metrics silenced (they would be this process's output), and returns its
 * exports. Configuration is read at a handler's first invocation.
 */
export async function loadFunction(
  file: string,
  env: Readonly<Record<string, string>>,
): Promise<FunctionModule> {
  Object.assign(process.env, env, {
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  return (await import(pathToFileURL(file).href)) as FunctionModule;
}
