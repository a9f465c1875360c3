#!/usr/bin/env bash
# The package as a platform engineer meets it: `npm pack`, then a fresh CDK
# app outside the checkout, compiled as CommonJS (`module: commonjs`,
# `moduleResolution: node`, what many existing CDK apps use), with an RDS
# PostgreSQL instance in a VPC, `db.connections.allowDefaultPortFrom(rotator)`
# and cdk-nag's AwsSolutions checks, synthesized with the cdk CLI on:
#   - the aws-cdk-lib this checkout locks (package-lock.json), and
#   - the newest aws-cdk-lib of the package's peer range (npm view).
# An unacknowledged cdk-nag finding fails the synth. The function's runtime
# must be the newest Node.js runtime that aws-cdk-lib lists. The same app
# also type-checks under `node16`, and an ES module app under `NodeNext`.
# Everything it makes, npm's cache included, is in one temporary directory,
# removed on exit. Usage: scripts/consumer-app.sh (from anywhere).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/scram-rotator-consumer.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export npm_config_cache="$work/npm-cache" npm_config_audit=false npm_config_fund=false \
  npm_config_update_notifier=false npm_config_loglevel=error
# A fresh machine: no AWS credentials, profile or region.
unset AWS_PROFILE AWS_REGION AWS_DEFAULT_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN \
  CDK_DEFAULT_ACCOUNT CDK_DEFAULT_REGION
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
started=$SECONDS

peer_range="$(node -p "require('$root/package.json').peerDependencies['aws-cdk-lib']")"
locked="$(node -p "require('$root/node_modules/aws-cdk-lib/package.json').version")"
newest="$(npm view "aws-cdk-lib@$peer_range" version --json | node -e '
  const v = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const sorted = [].concat(v).sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  process.stdout.write(sorted.at(-1));')"
nag="$(node -p "require('$root/node_modules/cdk-nag/package.json').version")"
echo "== consumer app: aws-cdk-lib $locked (locked) and $newest (newest of $peer_range), cdk-nag $nag"

# SCRAM_ROTATOR_TARBALL: a tarball packed already (to try the app again
# quickly); CI leaves it unset and packs.
if [ -n "${SCRAM_ROTATOR_TARBALL:-}" ]; then
  tarball="$SCRAM_ROTATOR_TARBALL"
else
  (cd "$root" && npm pack --silent --pack-destination "$work" >/dev/null)
  tarball="$(ls "$work"/scram-rotator-*.tgz)"
fi
tsc="$root/node_modules/typescript/bin/tsc"
cdk="$root/node_modules/aws-cdk/bin/cdk"

write_app() {
  local dir="$1"
  mkdir -p "$dir"
  # No "type": a CommonJS package, as `cdk init` made them before NodeNext.
  echo '{ "name": "consumer", "private": true }' >"$dir/package.json"
  cat >"$dir/app.ts" <<'TS'
import { App, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import { AwsSolutionsChecks } from 'cdk-nag';
import { RotatorConfigError, ScramRotator } from 'scram-rotator';

const app = new App();
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
const stack = new Stack(app, 'Consumer', { env: { account: '111122223333', region: 'eu-west-1' } });
const vpc = new ec2.Vpc(stack, 'Vpc', {
  maxAzs: 2,
  natGateways: 0,
  subnetConfiguration: [{ name: 'data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
  flowLogs: { all: { trafficType: ec2.FlowLogTrafficType.ALL } },
});
const db = new rds.DatabaseInstance(stack, 'Db', {
  engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_17 }),
  vpc,
  vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
  port: 15432,
  multiAz: true,
  storageEncrypted: true,
  deletionProtection: true,
  iamAuthentication: true,
  backupRetention: Duration.days(7),
  cloudwatchLogsExports: ['postgresql'],
  removalPolicy: RemovalPolicy.SNAPSHOT,
});
if (!db.secret) throw new Error('the instance has no generated secret');
const rotator = new ScramRotator(stack, 'Rotator', {
  secrets: [db.secret],
  vpc,
  vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
  databasePort: 15432,
  databasePeers: [ec2.Peer.ipv4(vpc.vpcCidrBlock)],
});
db.connections.allowDefaultPortFrom(rotator);
rotator.addOutputs();
export const isConfigError = (error: unknown): boolean => error instanceof RotatorConfigError;
app.synth();
TS
  cat >"$dir/app.mts" <<'TS'
import { App, Stack } from 'aws-cdk-lib';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { latestNodeRuntime, ScramRotator, type ScramRotatorProps } from 'scram-rotator';

const stack = new Stack(new App(), 'Esm');
const props: ScramRotatorProps = { secrets: [Secret.fromSecretNameV2(stack, 'S', 'prod/app')] };
export const rotator: ScramRotator = new ScramRotator(stack, 'Rotator', props);
export const runtimeName: string = latestNodeRuntime().name;
TS
  local types="\"types\": [\"node\"], \"typeRoots\": [\"$root/node_modules/@types\"]"
  local strict="\"strict\": true, \"target\": \"ES2022\", \"skipLibCheck\": true"
  echo "{ \"compilerOptions\": { $strict, $types, \"module\": \"commonjs\", \"moduleResolution\": \"node\", \"outDir\": \"out\" }, \"files\": [\"app.ts\"] }" >"$dir/tsconfig.json"
  echo "{ \"compilerOptions\": { $strict, $types, \"module\": \"node16\", \"moduleResolution\": \"node16\", \"noEmit\": true }, \"files\": [\"app.ts\"] }" >"$dir/tsconfig.node16.json"
  echo "{ \"compilerOptions\": { $strict, $types, \"module\": \"NodeNext\", \"moduleResolution\": \"NodeNext\", \"noEmit\": true }, \"files\": [\"app.mts\"] }" >"$dir/tsconfig.nodenext.json"
  # The account's zones as a lookup would record them: the synth stays offline.
  echo '{ "app": "node out/app.js", "context": { "availability-zones:account=111122223333:region=eu-west-1": ["eu-west-1a", "eu-west-1b", "eu-west-1c"] } }' >"$dir/cdk.json"
}

check_app() {
  local dir="$1" label="$2"
  echo "-- $label: type-check (moduleResolution node, node16, NodeNext), compile, cdk synth with cdk-nag ($((SECONDS - started)) s)"
  (cd "$dir" &&
    node "$tsc" -p tsconfig.json &&
    node "$tsc" -p tsconfig.node16.json &&
    node "$tsc" -p tsconfig.nodenext.json &&
    node "$cdk" synth --quiet --no-notices --output cdk.out >"$dir/synth.log" 2>&1) || {
    cat "$dir/synth.log" 2>/dev/null || true
    echo "consumer app on aws-cdk-lib $label failed" >&2
    exit 1
  }
  # The function runs on the newest Node.js runtime this aws-cdk-lib lists,
  # loads from require() and import. (The app acknowledges no cdk-nag finding.)
  (cd "$dir" && node -e '
    const lambda = require("aws-cdk-lib/aws-lambda");
    const newest = lambda.Runtime.ALL.map((r) => /^nodejs(\d+)\.x$/.exec(r.name)).filter(Boolean)
      .map((m) => Number(m[1])).reduce((a, b) => Math.max(a, b));
    const template = require("./cdk.out/Consumer.template.json");
    const fns = Object.values(template.Resources).filter((r) => r.Type === "AWS::Lambda::Function");
    const runtimes = fns.map((f) => f.Properties.Runtime);
    if (runtimes.length !== 1 || runtimes[0] !== `nodejs${newest}.x`)
      throw new Error(`runtime ${runtimes} is not nodejs${newest}.x`);
    const ingress = Object.values(template.Resources).filter((r) => r.Type === "AWS::EC2::SecurityGroupIngress"
      && JSON.stringify(r.Properties.SourceSecurityGroupId).includes("RotatorSecurityGroup")
      && JSON.stringify(r.Properties.GroupId).includes("DbSecurityGroup"));
    if (ingress.length !== 1) throw new Error("no ingress rule on the database from the function");
    const schedule = Object.entries(template.Resources).find(([, r]) => r.Type === "AWS::SecretsManager::RotationSchedule");
    const ingressId = Object.entries(template.Resources).find(([, r]) => r === ingress[0])[0];
    if (!schedule[1].DependsOn.includes(ingressId)) throw new Error("the first rotation does not wait for the database ingress rule");
    if (typeof require("scram-rotator").ScramRotator !== "function") throw new Error("require() failed");
    console.log(`   runtime ${runtimes[0]}, ingress from the function, schedule after it, require() ok`);
  ' && node --input-type=module -e 'const m = await import("scram-rotator"); if (typeof m.ScramRotator !== "function") throw new Error("import failed");')
}

# The locked aws-cdk-lib: the checkout's own peers, linked (offline).
locked_dir="$work/locked"
write_app "$locked_dir"
(cd "$locked_dir" && npm install --offline --legacy-peer-deps "$tarball" >/dev/null)
for dep in aws-cdk-lib constructs cdk-nag; do
  ln -s "$root/node_modules/$dep" "$locked_dir/node_modules/$dep"
done
check_app "$locked_dir" "$locked"

# The newest aws-cdk-lib of the peer range, installed from the registry.
if [ "$newest" != "$locked" ]; then
  newest_dir="$work/newest"
  write_app "$newest_dir"
  (cd "$newest_dir" && npm install "$tarball" "aws-cdk-lib@$newest" "constructs@^10" "cdk-nag@$nag" >/dev/null)
  check_app "$newest_dir" "$newest"
fi
echo "== consumer app passed in $((SECONDS - started)) s"
