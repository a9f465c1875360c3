import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { preflight } from '../../../bin/cli/aws.js';
import { EXIT, EXIT_CODES, exitCodesHelp } from '../../../bin/cli/exit-codes.js';
import { endpointEnvironmentProblem, parseEndpointUrl } from '../../../bin/cli/options.js';
import { action, usageMessage } from '../../../bin/cli/program.js';
import { nodeWarningLine } from '../../../bin/cli/warnings.js';
import { UsageError } from '../../../bin/workflow/common.js';

const SECRET = 'Tr0ub4dor&3';

/** A subcommand, as usageMessage sees it. */
function doctor(): Command {
  const program = new Command('scram-rotator');
  program.command('doctor');
  program.command('rotate');
  return program;
}

describe('usageMessage', () => {
  it('names an unknown option that has the shape of one, without its value, with the suggestion', () => {
    expect(
      usageMessage(
        doctor(),
        'commander.unknownOption',
        `error: unknown option '--secret-idd=${SECRET}'\n(Did you mean --secret-id?)`,
      ),
    ).toBe("unknown option '--secret-idd'; did you mean --secret-id?");
  });

  it('does not repeat an unknown option that does not look like an option name', () => {
    for (const typed of [`-${SECRET}`, `--${SECRET}`, `--pass word`, '--a\nb']) {
      const message = usageMessage(
        doctor(),
        'commander.unknownOption',
        `error: unknown option '${typed}'`,
      );
      expect(message).toBe('unknown option (not repeated here: it may be a password)');
    }
  });

  it('does not repeat an unknown command, an excess argument or an invalid value', () => {
    const messages = [
      usageMessage(doctor(), 'commander.unknownCommand', `error: unknown command '${SECRET}'`),
      usageMessage(
        doctor(),
        'commander.excessArguments',
        "error: too many arguments for 'hash'. Expected 0 arguments but got 1.",
      ),
      usageMessage(
        doctor(),
        'commander.invalidArgument',
        `error: option '--endpoint-url <url>' argument '${SECRET}' is invalid. is not a URL: give one such as http://127.0.0.1:4566`,
      ),
      usageMessage(
        doctor(),
        'commander.invalidArgument',
        `error: option '--mode <mode>' argument '${SECRET}' is invalid. Allowed choices are single-user, admin.`,
      ),
    ];
    expect(messages).toEqual([
      'unknown command (not repeated here); the commands are doctor, rotate',
      'takes options only, and got 1 other argument(s) (not repeated here, in case one is a password)',
      '--endpoint-url is not a URL: give one such as http://127.0.0.1:4566',
      '--mode takes one of single-user, admin',
    ]);
    // A value crafted to look like the end of commander's message is still not repeated.
    expect(
      usageMessage(
        doctor(),
        'commander.invalidArgument',
        `error: option '--region <region>' argument '${SECRET}' is invalid. x' is invalid. is not a region name such as eu-west-1`,
      ),
    ).toBe('--region is not a region name such as eu-west-1');
  });

  it('keeps every message on one line', () => {
    expect(usageMessage(doctor(), 'commander.error', `error: something\n${SECRET}`)).toBe(
      'something',
    );
  });
});

describe('parseEndpointUrl', () => {
  it('accepts http and https URLs with a host', () => {
    expect(parseEndpointUrl('http://127.0.0.1:4566')).toBe('http://127.0.0.1:4566');
    expect(parseEndpointUrl('https://secretsmanager.eu-west-1.amazonaws.com')).toBe(
      'https://secretsmanager.eu-west-1.amazonaws.com',
    );
  });

  it('refuses an empty value, which the SDK would read as "use AWS", and anything not http(s)', () => {
    expect(() => parseEndpointUrl('')).toThrow(/^is empty: /);
    expect(() => parseEndpointUrl('  ')).toThrow(/^is empty: /);
    expect(() => parseEndpointUrl(SECRET)).toThrow(/^is not a URL/);
    expect(() => parseEndpointUrl('localhost:4566')).toThrow(/^must be an http/);
    expect(() => parseEndpointUrl('file:///etc/passwd')).toThrow(/^must be an http/);
  });

  it('refuses a user name or password in the URL, and never repeats them', () => {
    for (const url of [`http://admin:${SECRET}@127.0.0.1:4566`, `https://${SECRET}@example.com`]) {
      expect(() => parseEndpointUrl(url)).toThrow(/^must not hold a user name or password/);
      try {
        parseEndpointUrl(url);
      } catch (error) {
        expect((error as Error).message).not.toContain(SECRET);
      }
    }
  });
});

describe('endpointEnvironmentProblem', () => {
  it('refuses an empty or malformed endpoint variable by name, which the SDK would read as unset (AWS) or fail on without naming it', () => {
    expect(endpointEnvironmentProblem({ AWS_ENDPOINT_URL: '' })).toMatch(
      /^AWS_ENDPOINT_URL is empty: /,
    );
    expect(endpointEnvironmentProblem({ AWS_ENDPOINT_URL_SECRETS_MANAGER: SECRET })).toMatch(
      /^AWS_ENDPOINT_URL_SECRETS_MANAGER is not a URL/,
    );
    expect(
      endpointEnvironmentProblem({ AWS_ENDPOINT_URL_LAMBDA: `http://u:${SECRET}@127.0.0.1:1` }),
    ).not.toContain(SECRET);
    expect(
      endpointEnvironmentProblem({ AWS_ENDPOINT_URL: 'http://127.0.0.1:4566' }),
    ).toBeUndefined();
    expect(endpointEnvironmentProblem({})).toBeUndefined();
  });

  it('stops preflight before the region or credentials are read, so no request is made', async () => {
    let resolved = false;
    const client = {
      config: {
        region: async () => {
          resolved = true;
          return 'us-east-1';
        },
        credentials: async () => {
          resolved = true;
          return { accessKeyId: 'a', secretAccessKey: 'b' };
        },
      },
    } as unknown as Parameters<typeof preflight>[0];
    await expect(preflight(client, 'doctor', { AWS_ENDPOINT_URL: ' ' })).rejects.toThrow(
      UsageError,
    );
    expect(resolved).toBe(false);
  });
});

describe('action', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** Runs `work` as the action of a command parsed from `args`; returns what it wrote and its exit code. */
  async function run(args: string[], work: () => Promise<number>) {
    const out: string[] = [];
    const err: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((text) => out.push(String(text)) > 0);
    vi.spyOn(process.stderr, 'write').mockImplementation((text) => err.push(String(text)) > 0);
    let exitCode: number | undefined;
    vi.spyOn(process, 'exit').mockImplementation((code) => {
      exitCode = Number(code);
      throw new Error('exited');
    });
    const command = new Command('doctor').option('--json').exitOverride();
    command.action(action(command, work));
    await command.parseAsync(args, { from: 'user' }).catch((error: Error) => {
      if (error.message !== 'exited') throw error;
    });
    return { out: out.join(''), err: err.join(''), exitCode };
  }

  it('prints one JSON object as the last line of stdout under --json when the work fails', async () => {
    const failed = await run(['--json'], async () => {
      throw new RangeError('No AWS region: pass --region');
    });
    expect(failed.exitCode).toBe(EXIT.failed);
    expect(failed.err).toContain('RangeError: No AWS region: pass --region');
    const last = failed.out.trimEnd().split('\n').at(-1) ?? '';
    expect(JSON.parse(last)).toEqual({
      ok: false,
      error: { name: 'RangeError', message: 'No AWS region: pass --region' },
    });
  });

  it('prints nothing on stdout for a failure without --json', async () => {
    const failed = await run([], async () => {
      throw new Error('boom');
    });
    expect(failed).toMatchObject({ exitCode: EXIT.failed, out: '' });
  });
});

describe('the exit codes', () => {
  it('are one table, printed in every help', () => {
    expect(EXIT).toEqual({ ok: 0, failed: 1, timedOut: 2, usage: 64 });
    for (const { code, meaning } of Object.values(EXIT_CODES)) {
      expect(exitCodesHelp()).toContain(`${String(code).padStart(2)}  ${meaning}`);
    }
  });
});

describe("the AWS SDK's Node.js notice", () => {
  it('becomes one line that keeps what the SDK says', () => {
    const sdk = `NodeVersionSupportWarning: The AWS SDK for JavaScript (v3)
versions published after the first week of January 2027
will require node >=22. You are running node v20.20.2.

To continue receiving updates to AWS services, bug fixes,
and security updates please upgrade to node >=22.

More information can be found at: https://a.co/c895JFp`;
    const line = nodeWarningLine(sdk);
    expect(line).not.toContain('\n');
    expect(line).toMatch(
      /^scram-rotator: note: the AWS SDK's releases after the first week of January 2027 need Node\.js 22 or later; this is v\d+/,
    );
  });
});
