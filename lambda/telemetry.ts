/**
 * The function's log lines and metrics: one JSON object per line on stdout
 * (WARN and ERROR on stderr), and the step metrics as a CloudWatch embedded
 * metric format (EMF) document, which CloudWatch Logs turns into metrics.
 *
 * Why not Powertools: its Logger and Metrics were 33 KiB of the bundle, a
 * third of everything the function carries beyond the AWS SDK and pg, for
 * the few lines below. The lines keep Powertools' shape and its variables
 * (`POWERTOOLS_SERVICE_NAME`, `POWERTOOLS_LOG_LEVEL`,
 * `POWERTOOLS_METRICS_NAMESPACE`, `POWERTOOLS_METRICS_DISABLED`), so log
 * queries, metric filters and deployed configuration work as before.
 *
 * Attributes are written with JSON.stringify: a secret parsed by
 * core/secret.ts serialises without its password, and an Error as its name
 * and message, which by design never hold a secret value.
 *
 * @module
 */
import type { Context } from 'aws-lambda';

/** Log levels, as Powertools and Lambda name them, by severity. */
export const LOG_LEVELS = {
  DEBUG: 8,
  INFO: 12,
  WARN: 16,
  ERROR: 20,
  SILENT: 28,
} as const;

/** One of {@link LOG_LEVELS}. */
export type LogLevel = keyof typeof LOG_LEVELS;

/** Extra keys of a log line. */
export type LogAttributes = Readonly<Record<string, unknown>>;

/** The environment variables telemetry reads. */
type Env = Readonly<Record<string, string | undefined>>;

/** Options for {@link Logger}. */
export interface LoggerOptions {
  /**
   * The `service` key of every line.
   * @default POWERTOOLS_SERVICE_NAME, else `service_undefined` (as Powertools)
   */
  readonly serviceName?: string;
  /**
   * The lowest level written; `SILENT` writes nothing.
   * @default POWERTOOLS_LOG_LEVEL, else AWS_LAMBDA_LOG_LEVEL (Lambda's
   *   application log level), else LOG_LEVEL, else INFO
   */
  readonly logLevel?: LogLevel | Lowercase<LogLevel>;
  /**
   * Where the defaults are read.
   * @default process.env
   */
  readonly env?: Env;
}

function levelOf(value: string | undefined): LogLevel | undefined {
  const upper = value?.trim().toUpperCase();
  if (upper === 'WARNING') return 'WARN';
  return upper !== undefined && upper in LOG_LEVELS ? (upper as LogLevel) : undefined;
}

/** JSON.stringify's replacer: Errors as name and message, bigints as strings. */
function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/**
 * Structured log lines with the Lambda context (request id, function, cold
 * start) and keys appended per invocation.
 *
 * @example
 * ```ts
 * const logger = new Logger({ serviceName: 'scram-rotator' });
 * logger.addContext(context);
 * logger.appendKeys({ step: 'createSecret' });
 * logger.info('createSecret: stored a new pending version');
 * // {"level":"INFO","message":"createSecret: ...","timestamp":"...","service":"scram-rotator",
 * //  "cold_start":true,"function_name":"...","function_request_id":"...","step":"createSecret"}
 * ```
 */
export class Logger {
  /** The lowest level written. */
  readonly logLevel: LogLevel;
  readonly #service: string;
  readonly #env: Env;
  #context: LogAttributes = {};
  #keys: Record<string, unknown> = {};
  #coldStart = true;

  constructor(options: LoggerOptions = {}) {
    this.#env = options.env ?? process.env;
    this.#service = options.serviceName ?? this.#env.POWERTOOLS_SERVICE_NAME ?? 'service_undefined';
    this.logLevel =
      levelOf(options.logLevel) ??
      levelOf(this.#env.POWERTOOLS_LOG_LEVEL) ??
      levelOf(this.#env.AWS_LAMBDA_LOG_LEVEL) ??
      levelOf(this.#env.LOG_LEVEL) ??
      'INFO';
  }

  /**
   * Takes the invocation's Lambda context for the lines that follow; the
   * first context an instance sees is the environment's cold start.
   */
  addContext(context: Context): void {
    this.#context = {
      cold_start: this.#coldStart,
      function_arn: context.invokedFunctionArn,
      function_memory_size: Number(context.memoryLimitInMB),
      function_name: context.functionName,
      function_request_id: context.awsRequestId,
    };
    this.#coldStart = false;
  }

  /** Adds keys to every following line, until {@link resetKeys}. */
  appendKeys(keys: LogAttributes): void {
    this.#keys = { ...this.#keys, ...keys };
  }

  /** Drops the appended keys and the invocation's context (at the end of an invocation). */
  resetKeys(): void {
    this.#keys = {};
    this.#context = {};
  }

  debug(message: string, attributes?: LogAttributes): void {
    this.#write('DEBUG', message, attributes);
  }

  info(message: string, attributes?: LogAttributes): void {
    this.#write('INFO', message, attributes);
  }

  warn(message: string, attributes?: LogAttributes): void {
    this.#write('WARN', message, attributes);
  }

  error(message: string, attributes?: LogAttributes): void {
    this.#write('ERROR', message, attributes);
  }

  #write(level: Exclude<LogLevel, 'SILENT'>, message: string, attributes?: LogAttributes): void {
    if (LOG_LEVELS[level] < LOG_LEVELS[this.logLevel]) return;
    const trace = /Root=([^;]+)/.exec(this.#env._X_AMZN_TRACE_ID ?? '')?.[1];
    const line = {
      level,
      message,
      timestamp: new Date().toISOString(),
      service: this.#service,
      ...this.#context,
      ...(trace === undefined ? {} : { xray_trace_id: trace }),
      ...this.#keys,
      ...attributes,
    };
    const stream = level === 'WARN' || level === 'ERROR' ? process.stderr : process.stdout;
    stream.write(`${JSON.stringify(line, replacer)}\n`);
  }
}

/** The units the function's metrics use (CloudWatch's names). */
export const MetricUnit = {
  Count: 'Count',
  Milliseconds: 'Milliseconds',
} as const;

/** One of {@link MetricUnit}. */
export type MetricUnitName = (typeof MetricUnit)[keyof typeof MetricUnit];

/** Options for {@link Metrics}. */
export interface MetricsOptions {
  /**
   * The `service` dimension.
   * @default POWERTOOLS_SERVICE_NAME, else `service_undefined`
   */
  readonly serviceName?: string;
  /**
   * The CloudWatch namespace.
   * @default POWERTOOLS_METRICS_NAMESPACE, else `default_namespace`
   */
  readonly namespace?: string;
  /**
   * Where the defaults and POWERTOOLS_METRICS_DISABLED are read.
   * @default process.env
   */
  readonly env?: Env;
}

/**
 * Metrics of one invocation, written as one EMF document when published:
 * a `service` dimension, any added ones, and the metrics added since.
 *
 * @example
 * ```ts
 * metrics.addDimension('Step', 'createSecret');
 * metrics.addMetric('StepSucceeded', MetricUnit.Count, 1);
 * metrics.publishStoredMetrics();
 * // {"_aws":{"Timestamp":...,"CloudWatchMetrics":[{"Namespace":"ScramRotator",
 * //  "Dimensions":[["service","Step"]],"Metrics":[{"Name":"StepSucceeded","Unit":"Count"}]}]},
 * //  "service":"scram-rotator","Step":"createSecret","StepSucceeded":1}
 * ```
 */
export class Metrics {
  readonly #namespace: string;
  readonly #service: string;
  readonly #disabled: boolean;
  #dimensions: Record<string, string> = {};
  #metrics = new Map<string, { unit: MetricUnitName; value: number }>();

  constructor(options: MetricsOptions = {}) {
    const env = options.env ?? process.env;
    this.#namespace = options.namespace ?? env.POWERTOOLS_METRICS_NAMESPACE ?? 'default_namespace';
    this.#service = options.serviceName ?? env.POWERTOOLS_SERVICE_NAME ?? 'service_undefined';
    this.#disabled = env.POWERTOOLS_METRICS_DISABLED?.trim().toLowerCase() === 'true';
  }

  /** Adds a dimension to the metrics published next. */
  addDimension(name: string, value: string): void {
    this.#dimensions[name] = value;
  }

  /** Records a metric; the same name again replaces it. */
  addMetric(name: string, unit: MetricUnitName, value: number): void {
    this.#metrics.set(name, { unit, value });
  }

  /**
   * Writes the stored metrics as one EMF line on stdout (none when nothing
   * was stored, or POWERTOOLS_METRICS_DISABLED is true) and clears them and
   * the added dimensions.
   */
  publishStoredMetrics(): void {
    const metrics = this.#metrics;
    const dimensions = { service: this.#service, ...this.#dimensions };
    this.#metrics = new Map();
    this.#dimensions = {};
    if (this.#disabled || metrics.size === 0) return;
    const document = {
      _aws: {
        Timestamp: Date.now(),
        CloudWatchMetrics: [
          {
            Namespace: this.#namespace,
            Dimensions: [Object.keys(dimensions)],
            Metrics: [...metrics].map(([name, { unit }]) => ({ Name: name, Unit: unit })),
          },
        ],
      },
      ...dimensions,
      ...Object.fromEntries([...metrics].map(([name, { value }]) => [name, value])),
    };
    process.stdout.write(`${JSON.stringify(document)}\n`);
  }
}
