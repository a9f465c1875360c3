/**
 * Stack outputs: the names operators need after `cdk deploy`.
 *
 * @module
 */
import { Annotations, CfnOutput, Fn, Stack } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { RotatorConfigError } from './errors.js';

/** Per stack, the rotator that added the outputs of each prefix. */
const OUTPUTS_BY_PREFIX = new WeakMap<Stack, Map<string, string>>();

/** What the outputs name: the parts of a rotator they read. */
export interface OutputSources {
  /** The rotator, which a warning is attached to. */
  readonly scope: Construct;
  readonly function: lambda.IFunction;
  readonly logGroup: logs.ILogGroup;
  readonly alarmTopic: sns.ITopic;
  readonly secretArns: readonly string[];
}

/**
 * Publishes the function ARN, its log group, the alarm topic, and per
 * rotated secret its ARN and the `npm run rotate` / `npm run doctor` lines
 * for it, with ids prefixed by `prefix`.
 *
 * @returns the outputs, by id (without the prefix)
 */
export function addRotatorOutputs(from: OutputSources, prefix: string): Record<string, CfnOutput> {
  const stack = Stack.of(from.scope);
  const scope = stack;
  // Output ids live in the stack: a second rotator's would clash by id.
  const byPrefix = OUTPUTS_BY_PREFIX.get(stack) ?? new Map<string, string>();
  const first = byPrefix.get(prefix);
  if (first !== undefined) {
    throw new RotatorConfigError(
      'addOutputs',
      `${from.scope.node.path} and ${first} both add the outputs ${prefix}FunctionArn, ${prefix}Secret1Arn, ... to stack ${stack.stackName}; give one of them a prefix, e.g. addOutputs({ prefix: '${from.scope.node.id}' })`,
    );
  }
  byPrefix.set(prefix, from.scope.node.path);
  OUTPUTS_BY_PREFIX.set(stack, byPrefix);
  const outputs: Record<string, CfnOutput> = {};
  const add = (id: string, value: string, description: string) => {
    outputs[id] = new CfnOutput(scope, `${prefix}${id}`, { value, description });
  };
  add('FunctionArn', from.function.functionArn, 'The rotation function (RotationLambdaARN).');
  add(
    'LogGroupName',
    from.logGroup.logGroupName,
    "The rotation function's log group (npm run rotate --log-group).",
  );
  add('AlarmTopicArn', from.alarmTopic.topicArn, 'Where alarms and rotation failures go.');
  // CloudFormation allows 200 outputs a stack; three per secret beyond
  // that would fail the deploy, so the commands go first.
  const perSecret = from.secretArns.length * 3 + 3 <= 200 ? 3 : 1;
  from.secretArns.forEach((arn, index) => {
    const n = index + 1;
    add(`Secret${n}Arn`, arn, `Rotated secret ${n}.`);
    if (perSecret === 3) {
      add(
        `Secret${n}Rotate`,
        Fn.join('', [
          `npm run rotate -- --region ${stack.region} --secret-id `,
          arn,
          ' --log-group ',
          from.logGroup.logGroupName,
        ]),
        `Rotate secret ${n} now and follow it (from a scram-rotator checkout).`,
      );
      add(
        `Secret${n}Doctor`,
        Fn.join('', [`npm run doctor -- --region ${stack.region} --secret-id `, arn]),
        `Preflight checks for secret ${n} (from a scram-rotator checkout).`,
      );
    }
  });
  if (perSecret === 1) {
    Annotations.of(from.scope).addWarningV2(
      'scram-rotator:outputs',
      `${from.secretArns.length} secrets: the stack outputs list only their ARNs (CloudFormation allows 200 outputs). Run npm run rotate -- --region ${stack.region} --secret-id <ARN> for any of them.`,
    );
  }
  return outputs;
}
