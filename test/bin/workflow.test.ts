import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rotationFunctionArn, UsageError } from '../../bin/workflow/common.js';
import { redactStatement } from '../../bin/workflow/dry-run.js';
import { applyKeys, EMPTY_PROMPT, passwordFromText } from '../../bin/workflow/prompt.js';
import { failureFrom } from '../../bin/workflow/rotation.js';

const ARN = 'arn:aws:lambda:eu-west-1:111122223333:function:ScramRotator-Fn';

describe('the workflow commands (pure parts)', () => {
  it('reads typed keys without echo: Enter ends, Backspace erases, Ctrl-C cancels', () => {
    expect(applyKeys(EMPTY_PROMPT, 'abc\u007fd\r')).toEqual({
      value: 'abd',
      done: true,
      cancelled: false,
    });
    expect(applyKeys(EMPTY_PROMPT, 'ab\u0003')).toMatchObject({ value: '', cancelled: true });
    expect(applyKeys(EMPTY_PROMPT, 'a\u001bb')).toMatchObject({ value: 'ab', done: false });
    expect(passwordFromText('secret\r\n')).toBe('secret');
    expect(passwordFromText('two\nlines\n')).toBe('two\nlines');
  });

  it('redacts the verifier in dry-run statements, keeping its iteration count', () => {
    expect(
      redactStatement(`CREATE USER "u" WITH LOGIN PASSWORD 'SCRAM-SHA-256$10610:c2FsdA==$a:b'`),
    ).toBe(`CREATE USER "u" WITH LOGIN PASSWORD 'SCRAM-SHA-256$10610:<redacted>'`);
  });

  it('finds the rotation function ARN in the flag or a stack outputs file, tolerantly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'outputs-'));
    const outputs = join(dir, 'outputs.json');
    expect(rotationFunctionArn(ARN, undefined)).toBe(ARN);
    expect(() => rotationFunctionArn('not-an-arn', undefined)).toThrow(UsageError);
    await writeFile(outputs, JSON.stringify({ ScramRotator: { FunctionArn: ARN, Other: 'x' } }));
    expect(rotationFunctionArn(undefined, outputs)).toBe(ARN);
    await writeFile(outputs, JSON.stringify({ rotationFunctionArn: ARN }));
    expect(rotationFunctionArn(undefined, outputs)).toBe(ARN);
    await writeFile(outputs, JSON.stringify({ ScramRotator: { LogGroupName: '/aws/lambda/x' } }));
    expect(rotationFunctionArn(undefined, outputs)).toBeUndefined();
    await writeFile(
      outputs,
      JSON.stringify({ A: { FunctionArn: ARN }, B: { FunctionArn: `${ARN}2` } }),
    );
    expect(() => rotationFunctionArn(undefined, outputs)).toThrow(/names 2 rotation functions/);
  });

  it("reads a rotation's failure from the function's or the runtime's log line", () => {
    const token = 'tok-1';
    expect(
      failureFrom(
        [
          JSON.stringify({
            message: 'step failed',
            token,
            errorName: 'TargetRoleError',
            errorMessage: 'Target role refused: x',
          }),
        ],
        token,
      ),
    ).toBe('TargetRoleError: Target role refused: x');
    expect(
      failureFrom(
        [
          `2026-01-01T00:00:00Z\tid\tERROR\tInvoke Error \t${JSON.stringify({ errorType: 'E', errorMessage: 'm' })}`,
        ],
        token,
      ),
    ).toBe('E: m');
    expect(failureFrom(['START RequestId: x'], token)).toBeUndefined();
  });
});
