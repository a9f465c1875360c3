import type { RotationConfig } from '../config.js';
import type { DatabaseSecret } from '../core/secret.js';
import { admin } from './admin.js';
import { alternating } from './alternating.js';
import { singleUser } from './single-user.js';
import type { ChangeStrategy, StrategyName } from './strategy.js';

export * from './strategy.js';

/** Each strategy, by name. */
export const CHANGE_STRATEGIES = {
  'single-user': singleUser,
  admin,
  alternating,
} as const satisfies Record<StrategyName, ChangeStrategy>;

/**
 * The strategy ROTATION_MODE picks: `auto` means admin when AWSCURRENT has
 * a `masterarn`, else single user.
 */
export function strategyFor(config: RotationConfig, current: DatabaseSecret): ChangeStrategy {
  switch (config.mode) {
    case 'single-user':
    case 'admin':
    case 'alternating':
      return CHANGE_STRATEGIES[config.mode];
    case 'auto':
      return current.masterarn ? admin : singleUser;
  }
}
