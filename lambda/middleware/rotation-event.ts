import type { MiddlewareObj } from '@middy/core';
import { parseRotationEvent, type RotationEvent } from '../core/event.js';

/**
 * Validates the event before anything else runs, so a malformed event fails
 * with {@link InvalidEventError} and touches nothing.
 */
export function rotationEvent(): MiddlewareObj<unknown> {
  return {
    name: 'rotationEvent',
    before: (request) => {
      request.event = parseRotationEvent(request.event) satisfies RotationEvent;
    },
  };
}
