/**
 * Just enough of the PostgreSQL wire protocol (version 3) for the CockroachDB
 * double: framing, the few messages it builds itself, and the fields it reads
 * from the messages it rewrites. pg-gateway handles the client's side of the
 * start-up and authentication; this module serves the rest (the backend
 * connection and the query rewriting).
 *
 * Message formats: https://www.postgresql.org/docs/current/protocol-message-formats.html
 *
 * @module
 */

/** Protocol 3.0, as sent in StartupMessage. */
const PROTOCOL_VERSION_3 = 196_608;
/** The magic "version" of an SSLRequest. */
const SSL_REQUEST_CODE = 80_877_103;
/** The magic "version" of a CancelRequest. */
const CANCEL_REQUEST_CODE = 80_877_102;

/** A NUL-terminated UTF-8 string. */
export function cstring(text: string): Buffer {
  return Buffer.concat([Buffer.from(text, 'utf8'), Buffer.from([0])]);
}

/** A message with a one-byte type: type, Int32 length (including itself), body. */
export function message(type: string, body: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

function int32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(value, 0);
  return b;
}

/** SSLRequest: asks the server whether it will talk TLS. */
export function sslRequest(): Buffer {
  return Buffer.concat([int32(8), int32(SSL_REQUEST_CODE)]);
}

/** StartupMessage with the given parameters (user, database, options, GUCs). */
export function startupMessage(parameters: Readonly<Record<string, string>>): Buffer {
  const body = Buffer.concat([
    int32(PROTOCOL_VERSION_3),
    ...Object.entries(parameters).flatMap(([key, value]) => [cstring(key), cstring(value)]),
    Buffer.from([0]),
  ]);
  return Buffer.concat([int32(body.length + 4), body]);
}

/** Simple Query. */
export function queryMessage(sql: string): Buffer {
  return message('Q', cstring(sql));
}

/** SASLInitialResponse: the mechanism chosen and the client-first-message. */
export function saslInitialResponse(mechanism: string, data: string): Buffer {
  const payload = Buffer.from(data, 'utf8');
  return message('p', Buffer.concat([cstring(mechanism), int32(payload.length), payload]));
}

/** SASLResponse: the client-final-message. */
export function saslResponse(data: string): Buffer {
  return message('p', Buffer.from(data, 'utf8'));
}

/** Terminate. */
export function terminateMessage(): Buffer {
  return message('X');
}

/** ParameterStatus (backend): a run-time parameter the client should know. */
export function parameterStatus(name: string, value: string): Buffer {
  return message('S', Buffer.concat([cstring(name), cstring(value)]));
}

/** The fields of an ErrorResponse or NoticeResponse the double reads or writes. */
export interface ErrorFields {
  readonly severity: string;
  readonly code: string;
  readonly message: string;
  readonly detail?: string;
  readonly hint?: string;
}

/** ErrorResponse (backend). */
export function errorResponse(fields: ErrorFields): Buffer {
  const parts: Buffer[] = [];
  const add = (code: string, value: string | undefined) => {
    if (value === undefined || value === '') return;
    parts.push(Buffer.from(code, 'latin1'), cstring(value));
  };
  add('S', fields.severity);
  add('V', fields.severity);
  add('C', fields.code);
  add('M', fields.message);
  add('D', fields.detail);
  add('H', fields.hint);
  parts.push(Buffer.from([0]));
  return message('E', Buffer.concat(parts));
}

/** Reads the fields of an ErrorResponse body (after type and length). */
export function parseErrorFields(body: Buffer): ErrorFields {
  const fields = new Map<string, string>();
  let offset = 0;
  while (offset < body.length) {
    const code = body[offset];
    if (code === undefined || code === 0) break;
    const end = body.indexOf(0, offset + 1);
    if (end < 0) break;
    fields.set(String.fromCharCode(code), body.toString('utf8', offset + 1, end));
    offset = end + 1;
  }
  return {
    severity: fields.get('V') ?? fields.get('S') ?? 'ERROR',
    code: fields.get('C') ?? 'XX000',
    message: fields.get('M') ?? '',
    ...(fields.has('D') ? { detail: fields.get('D') } : {}),
    ...(fields.has('H') ? { hint: fields.get('H') } : {}),
  };
}

/** One framed message: its type byte, its body, and the whole frame as received. */
export interface Frame {
  readonly type: string;
  readonly body: Buffer;
  readonly raw: Buffer;
}

/**
 * Splits a byte stream of typed messages into frames. TCP (and TLS) deliver
 * chunks that cut messages anywhere, so bytes are kept until a frame is whole.
 */
export class FrameReader {
  #pending: Buffer = Buffer.alloc(0);

  /** Adds a chunk and returns every frame it completes, in order. */
  push(chunk: Uint8Array): Frame[] {
    this.#pending =
      this.#pending.length === 0
        ? Buffer.from(chunk)
        : Buffer.concat([this.#pending, Buffer.from(chunk)]);
    const frames: Frame[] = [];
    let offset = 0;
    while (this.#pending.length - offset >= 5) {
      const length = this.#pending.readInt32BE(offset + 1);
      if (length < 4) throw new Error(`malformed protocol message: length ${length}`);
      const end = offset + 1 + length;
      if (end > this.#pending.length) break;
      const raw = this.#pending.subarray(offset, end);
      frames.push({
        type: String.fromCharCode(raw[0] ?? 0),
        body: raw.subarray(5),
        raw,
      });
      offset = end;
    }
    this.#pending = this.#pending.subarray(offset);
    return frames;
  }
}

/** A NUL-terminated string at `offset` and where the next field starts. */
export function readCString(buf: Buffer, offset: number): { value: string; next: number } {
  const end = buf.indexOf(0, offset);
  if (end < 0) throw new Error('malformed protocol message: unterminated string');
  return { value: buf.toString('utf8', offset, end), next: end + 1 };
}

/** The parts of a Parse message. */
export interface ParseMessage {
  readonly statement: string;
  readonly query: string;
  /** Parameter type OIDs the client declared (0 = let the server infer). */
  readonly parameterTypes: readonly number[];
}

/** Decodes a Parse body. */
export function decodeParse(body: Buffer): ParseMessage {
  const statement = readCString(body, 0);
  const query = readCString(body, statement.next);
  let offset = query.next;
  const count = body.readInt16BE(offset);
  offset += 2;
  const parameterTypes: number[] = [];
  for (let i = 0; i < count; i++) {
    parameterTypes.push(body.readUInt32BE(offset));
    offset += 4;
  }
  return { statement: statement.value, query: query.value, parameterTypes };
}

/** Encodes a Parse message. */
export function encodeParse(parse: ParseMessage): Buffer {
  const types = Buffer.alloc(2 + 4 * parse.parameterTypes.length);
  types.writeInt16BE(parse.parameterTypes.length, 0);
  parse.parameterTypes.forEach((oid, i) => {
    types.writeUInt32BE(oid, 2 + 4 * i);
  });
  return message('P', Buffer.concat([cstring(parse.statement), cstring(parse.query), types]));
}

/** What an untyped first message from a client is. */
export type InitialMessageKind = 'ssl-request' | 'cancel-request' | 'startup' | 'other';

/** Classifies a client's first (untyped) message by its version field. */
export function initialMessageKind(data: Uint8Array): InitialMessageKind {
  if (data.byteLength < 8) return 'other';
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const length = view.getInt32(0);
  const code = view.getInt32(4);
  if (length !== data.byteLength) return 'other';
  if (code === SSL_REQUEST_CODE) return 'ssl-request';
  if (code === CANCEL_REQUEST_CODE) return 'cancel-request';
  if (code === PROTOCOL_VERSION_3) return 'startup';
  return 'other';
}

/**
 * Renames columns in a RowDescription frame; returns the frame unchanged
 * when none of its columns is in `names`.
 */
export function renameColumns(frame: Frame, names: ReadonlyMap<string, string>): Buffer {
  const body = frame.body;
  const count = body.readInt16BE(0);
  const parts: Buffer[] = [body.subarray(0, 2)];
  let offset = 2;
  let changed = false;
  for (let i = 0; i < count; i++) {
    const name = readCString(body, offset);
    const renamed = names.get(name.value);
    if (renamed !== undefined) changed = true;
    parts.push(cstring(renamed ?? name.value));
    // Table OID, column number, type OID, type size, type modifier, format.
    parts.push(body.subarray(name.next, name.next + 18));
    offset = name.next + 18;
  }
  return changed ? message('T', Buffer.concat(parts)) : frame.raw;
}
