/**
 * Alarms and notifications: an alarm on the function's errors, an
 * EventBridge rule for the rotations Secrets Manager reports as failed or
 * abandoned, an alarm on failure events that could not be delivered, and
 * the encrypted topic they all go to, which only they may publish to.
 *
 * @module
 */
import { ArnFormat, Duration, Names, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as snsSubscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { RotatorConfigError } from './errors.js';
import type { ScramRotatorProps } from './props.js';

/**
 * The CloudTrail service events Secrets Manager sends when a rotation does
 * not complete, as the Secrets Manager User Guide lists them ("AWS CloudTrail
 * entries for Secrets Manager", log entries for rotation,
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/cloudtrail_log_entries.html):
 * - `RotationFailed`: "Generated when rotation fails";
 * - `RotationAbandoned`: "Generated when Secrets Manager abandons a rotation
 *   attempt and removes the AWSPENDING label from an existing version of a
 *   secret" (a new version was put during the rotation);
 * - `TestRotationFailed`: "Generated when Secrets Manager tests rotation for
 *   a secret that is not scheduled for immediate rotation and rotation
 *   failed" (RotateImmediately false).
 * EventBridge receives them with detail-type "AWS Service Event via
 * CloudTrail", the secret's complete ARN in `additionalEventData.SecretId`
 * (test/infra/fixtures/rotation-events.ts has the documented shapes).
 */
export const ROTATION_FAILURE_EVENTS = [
  'RotationFailed',
  'RotationAbandoned',
  'TestRotationFailed',
] as const;

/** What {@link createAlarms} makes. */
export interface RotatorAlarms {
  readonly topic: sns.ITopic;
  readonly errorsAlarm: cloudwatch.Alarm;
  readonly undeliveredEventsAlarm: cloudwatch.Alarm;
  readonly rotationFailureRule: events.Rule;
}

/**
 * The topic (given, or created with its key), the e-mail subscription, the
 * alarms and the failure rule for the secrets of `secretArns`.
 *
 * @param scope - the rotator: alarm and rule names derive from its path
 * @throws {@link RotatorConfigError} for an alarm e-mail that is not an address
 */
export function createAlarms(
  scope: Construct,
  props: ScramRotatorProps,
  fn: lambda.IFunction,
  secretArns: readonly string[],
): RotatorAlarms {
  const ownTopic = props.alarmTopic === undefined;
  const { topic: alarmTopic, key } = ownTopic
    ? createTopic(scope)
    : { topic: props.alarmTopic as sns.ITopic, key: undefined };
  if (props.alarmEmail !== undefined) {
    // SNS would only refuse it at deploy time, halfway through the stack.
    if (
      !Token.isUnresolved(props.alarmEmail) &&
      !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(props.alarmEmail)
    ) {
      throw new RotatorConfigError(
        'alarmEmail',
        `${props.alarmEmail} is not an e-mail address; give one address such as dba@example.com`,
      );
    }
    alarmTopic.addSubscription(new snsSubscriptions.EmailSubscription(props.alarmEmail));
  }

  // Explicit names: the topic's key policy must name the alarms and the
  // rule that may use it, and the key cannot reference them (they
  // reference the topic, which references the key: a cycle).
  const errorsAlarmName = Names.uniqueResourceName(scope, { maxLength: 200, separator: '-' });
  const ruleName = Names.uniqueResourceName(scope, { maxLength: 64, separator: '-' });
  const errorsAlarm = new cloudwatch.Alarm(scope, 'ErrorsAlarm', {
    alarmName: `${errorsAlarmName}-errors`,
    alarmDescription:
      'scram-rotator: a rotation step failed. Secrets Manager retries the rotation; see the function logs for the step and reason (npm run rotate prints it).',
    metric: fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    // No invocations between rotations is the normal state, not an alarm.
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  errorsAlarm.addAlarmAction(new cloudwatchActions.SnsAction(alarmTopic));

  const rotationFailureRule = new events.Rule(scope, 'RotationFailureRule', {
    ruleName,
    description: 'scram-rotator: Secrets Manager rotations that failed or were abandoned',
    eventPattern: {
      source: ['aws.secretsmanager'],
      detailType: ['AWS Service Event via CloudTrail'],
      detail: {
        eventSource: ['secretsmanager.amazonaws.com'],
        eventName: [...ROTATION_FAILURE_EVENTS],
        // Only this construct's secrets, by complete ARN: a prefix would
        // also match prod/app-reporting-XXXXXX for prod/app.
        additionalEventData: { SecretId: [...secretArns] },
      },
    },
    targets: [
      ownTopic
        ? // The topic policy below allows this rule alone; the CDK's
          // SnsTopic target would add an unconditional grant.
          { bind: () => ({ arn: alarmTopic.topicArn }) }
        : new eventsTargets.SnsTopic(alarmTopic),
    ],
  });

  const undeliveredEventsAlarm = new cloudwatch.Alarm(scope, 'UndeliveredEventsAlarm', {
    alarmName: `${errorsAlarmName}-undelivered-events`,
    alarmDescription:
      'scram-rotator: a rotation failure event matched but EventBridge could not publish it to the alarm topic. Check the topic policy and its KMS key policy for events.amazonaws.com.',
    metric: new cloudwatch.Metric({
      namespace: 'AWS/Events',
      metricName: 'FailedInvocations',
      dimensionsMap: { RuleName: rotationFailureRule.ruleName },
      period: Duration.minutes(5),
      statistic: 'Sum',
    }),
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  undeliveredEventsAlarm.addAlarmAction(new cloudwatchActions.SnsAction(alarmTopic));

  if (ownTopic) {
    allowAlarmPath(
      scope,
      alarmTopic,
      key,
      [`${errorsAlarmName}-errors`, `${errorsAlarmName}-undelivered-events`],
      ruleName,
    );
  }
  return { topic: alarmTopic, errorsAlarm, undeliveredEventsAlarm, rotationFailureRule };
}

function createTopic(scope: Construct): { topic: sns.Topic; key: kms.Key } {
  // aws/sns (the AWS managed key) cannot be used: its key policy cannot
  // let EventBridge and CloudWatch encrypt messages for the topic.
  const key = new kms.Key(scope, 'AlarmTopicKey', {
    description: 'scram-rotator: encrypts the alarm topic',
    enableKeyRotation: true,
    // Only alarms pass through it; nothing to keep after the stack goes.
    removalPolicy: RemovalPolicy.DESTROY,
    pendingWindow: Duration.days(7),
  });
  const topic = new sns.Topic(scope, 'AlarmTopic', {
    displayName: 'scram-rotator alarms',
    masterKey: key,
    enforceSSL: true,
  });
  return { topic, key };
}

/**
 * The only publishers of the construct's own topic: its alarms (through
 * CloudWatch) and its failure rule (through EventBridge), each named by
 * aws:SourceArn and this account by aws:SourceAccount, on the topic and
 * on the topic's key. CDK replaces the topic's default policy (which let
 * the account's services publish) with its own, so both need statements.
 */
function allowAlarmPath(
  scope: Construct,
  topic: sns.ITopic,
  key: kms.IKey | undefined,
  alarmNames: readonly string[],
  ruleName: string,
): void {
  const stack = Stack.of(scope);
  const alarmArns = alarmNames.map((name) =>
    stack.formatArn({
      service: 'cloudwatch',
      resource: 'alarm',
      resourceName: name,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    }),
  );
  const ruleArn = stack.formatArn({
    service: 'events',
    resource: 'rule',
    resourceName: ruleName,
    arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
  });
  const publishers = [
    { sid: 'CloudWatchAlarms', service: 'cloudwatch.amazonaws.com', sources: alarmArns },
    { sid: 'RotationFailureRule', service: 'events.amazonaws.com', sources: [ruleArn] },
  ];
  for (const { sid, service, sources } of publishers) {
    const conditions = {
      ArnLike: { 'aws:SourceArn': sources.length === 1 ? sources[0] : sources },
      StringEquals: { 'aws:SourceAccount': stack.account },
    };
    const principals = [new iam.ServicePrincipal(service)];
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: `${sid}Publish`,
        principals,
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions,
      }),
    );
    // SNS encrypts each message with the topic's key on behalf of the
    // publisher, which therefore needs the data key actions too.
    key?.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: `${sid}Encrypt`,
        principals,
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions,
      }),
    );
  }
}
