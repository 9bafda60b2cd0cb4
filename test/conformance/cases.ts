/**
 * The frame-level case tables: one row per case, modelled on the server cases of the Autobahn
 * TestSuite (section numbers in `autobahn`) plus hostile extras. Each row says what the client
 * sends and what the server must answer, in order. Rows whose connection stays open are followed
 * by a probe echo and a clean 1000 close by the runner, so "ignored" is checked, not assumed.
 */
import {
  Opcode,
  binaryFrame,
  buildFrame,
  closeFrame,
  closePayload,
  continuationFrame,
  deflateMessage,
  fragmentedMessage,
  pingFrame,
  pongFrame,
  splitInto,
  textFrame,
} from "../helpers/frames.js";

/** Server profiles a case can need; the suite starts one server per profile and mount. */
export const PROFILES = {
  /** Plain endpoint with room for the 64 KiB framing cases. */
  base: { maxMessageSize: 256 * 1024, pingInterval: 0 },
  /** A small message limit for the limit cases. */
  limits: { maxMessageSize: 64 * 1024, pingInterval: 0 },
  /** permessage-deflate on, same small limit. */
  deflate: { maxMessageSize: 64 * 1024, pingInterval: 0, compression: { threshold: 0 } },
  /** Autobahn's own server configuration for sections 9.x: messages up to 16 MiB. */
  large: { maxMessageSize: 16 * 1024 * 1024, pingInterval: 0 },
} as const;

/** The name of a server profile. */
export type ProfileName = keyof typeof PROFILES;

/** One thing the server must do, in order. */
export type Expectation =
  | { kind: "message"; opcode: number; data: Buffer }
  | { kind: "pong"; payload: Buffer }
  /** A close frame with one of these codes (undefined: an empty close frame), then the end of the connection. */
  | { kind: "close"; codes: Array<number | undefined> };

/** How the client writes its frames. */
export type WriteMode = "together" | "per-frame" | "per-byte";

/** One case. */
export interface FrameCase {
  /** Case group (a row of the table in docs/conformance.md). */
  group: string;
  /** Short description. */
  title: string;
  /** Closest Autobahn server case(s), if any. */
  autobahn?: string;
  /** Server profile. Default: base. */
  profile?: ProfileName;
  /** Sec-WebSocket-Extensions offer; null sends none. Default: none. */
  extensions?: string | null;
  /** Frames to send, built on each run (fresh random masks). */
  send: () => Buffer[];
  /** Default: together. */
  write?: WriteMode;
  /** What the server must answer, in order. */
  expect: Expectation[];
}

const b = (bytes: number[]): Buffer => Buffer.from(bytes);
const utf8 = (s: string): Buffer => Buffer.from(s, "utf8");
const filled = (length: number, byte = 0x2a): Buffer => Buffer.alloc(length, byte);

/** Expect a text echo. */
export const echoText = (data: Buffer | string): Expectation => ({
  kind: "message",
  opcode: Opcode.text,
  data: typeof data === "string" ? utf8(data) : data,
});
/** Expect a binary echo. */
export const echoBinary = (data: Buffer | string): Expectation => ({
  kind: "message",
  opcode: Opcode.binary,
  data: typeof data === "string" ? utf8(data) : data,
});
/** Expect a pong with this payload. */
export const pong = (payload: Buffer | string = ""): Expectation => ({
  kind: "pong",
  payload: typeof payload === "string" ? utf8(payload) : payload,
});
/** Expect a close frame with one of these codes, then the end of the connection. */
export const closedWith = (...codes: Array<number | undefined>): Expectation => ({ kind: "close", codes });

const PROTOCOL_ERROR = closedWith(1002);
const INVALID_PAYLOAD = closedWith(1007);
const TOO_BIG = closedWith(1009);

// ---------------------------------------------------------------------------------------------
// 1. Framing and payload lengths (Autobahn 1.1, 1.2)
const framing: FrameCase[] = [];
for (const length of [0, 125, 126, 127, 128, 65535, 65536]) {
  framing.push({
    group: "Framing",
    title: `text, ${length} bytes`,
    autobahn: "1.1.1-1.1.6",
    send: () => [textFrame(filled(length))],
    expect: [echoText(filled(length))],
  });
  framing.push({
    group: "Framing",
    title: `binary, ${length} bytes`,
    autobahn: "1.2.1-1.2.6",
    send: () => [binaryFrame(filled(length, 0xfe))],
    expect: [echoBinary(filled(length, 0xfe))],
  });
}
framing.push(
  {
    group: "Framing",
    title: "text, 300 bytes written one byte at a time",
    autobahn: "1.1.7",
    send: () => [textFrame(filled(300))],
    write: "per-byte",
    expect: [echoText(filled(300))],
  },
  {
    group: "Framing",
    title: "binary, 300 bytes written one byte at a time",
    autobahn: "1.2.8",
    send: () => [binaryFrame(filled(300, 0x01))],
    write: "per-byte",
    expect: [echoBinary(filled(300, 0x01))],
  },
  {
    group: "Framing",
    title: "five messages in one TCP write",
    send: () => [1, 2, 3, 4, 5].map((n) => textFrame(`m${n}`)),
    expect: [1, 2, 3, 4, 5].map((n) => echoText(`m${n}`)),
  },
  {
    group: "Framing",
    title: "5 bytes in a 16-bit length field (non-minimal, accepted)",
    send: () => [textFrame("Hello", { lengthEncoding: 16 })],
    expect: [echoText("Hello")],
  },
  {
    group: "Framing",
    title: "5 bytes in a 64-bit length field (non-minimal, accepted)",
    send: () => [binaryFrame("Hello", { lengthEncoding: 64 })],
    expect: [echoBinary("Hello")],
  },
  {
    group: "Framing",
    title: "64-bit length with the most significant bit set",
    send: () => [buildFrame({ opcode: Opcode.binary, declaredLength: 0x8000000000000000n, payload: "x" })],
    expect: [closedWith(1002, 1009)],
  },
  {
    group: "Framing",
    title: "unmasked text frame from the client",
    send: () => [textFrame("Hello", { mask: false })],
    expect: [PROTOCOL_ERROR],
  },
  {
    group: "Framing",
    title: "unmasked ping from the client",
    send: () => [pingFrame("Hello", { mask: false })],
    expect: [PROTOCOL_ERROR],
  },
  {
    group: "Framing",
    title: "all-zero mask key (masked, key 0) is a valid mask",
    send: () => [textFrame("zero key", { mask: Buffer.alloc(4) })],
    expect: [echoText("zero key")],
  },
);

// ---------------------------------------------------------------------------------------------
// 2. Pings and pongs (Autobahn 2.x)
const pings: FrameCase[] = [
  { group: "Ping/pong", title: "ping, empty payload", autobahn: "2.1", send: () => [pingFrame()], expect: [pong()] },
  {
    group: "Ping/pong",
    title: "ping, small text payload",
    autobahn: "2.2",
    send: () => [pingFrame("Hello, world!")],
    expect: [pong("Hello, world!")],
  },
  {
    group: "Ping/pong",
    title: "ping, binary payload",
    autobahn: "2.3",
    send: () => [pingFrame(b([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff]))],
    expect: [pong(b([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff]))],
  },
  {
    group: "Ping/pong",
    title: "ping, 125-byte payload",
    autobahn: "2.4",
    send: () => [pingFrame(filled(125, 0xfe))],
    expect: [pong(filled(125, 0xfe))],
  },
  {
    group: "Ping/pong",
    title: "ping, 126-byte payload",
    autobahn: "2.5",
    send: () => [pingFrame(filled(126, 0xfe))],
    expect: [PROTOCOL_ERROR],
  },
  {
    group: "Ping/pong",
    title: "ping, 125-byte payload written one byte at a time",
    autobahn: "2.6",
    send: () => [pingFrame(filled(125, 0xfe))],
    write: "per-byte",
    expect: [pong(filled(125, 0xfe))],
  },
  {
    group: "Ping/pong",
    title: "unsolicited pong, empty, ignored",
    autobahn: "2.7",
    send: () => [pongFrame()],
    expect: [],
  },
  {
    group: "Ping/pong",
    title: "unsolicited pong with payload, ignored",
    autobahn: "2.8",
    send: () => [pongFrame("unsolicited pong payload")],
    expect: [],
  },
  {
    group: "Ping/pong",
    title: "unsolicited pong then ping: one pong for the ping",
    autobahn: "2.9",
    send: () => [pongFrame("unsolicited"), pingFrame("solicited")],
    expect: [pong("solicited")],
  },
  {
    group: "Ping/pong",
    title: "ten pings, ten pongs in order",
    autobahn: "2.10",
    send: () => Array.from({ length: 10 }, (_, i) => pingFrame(`ping ${i}`)),
    expect: Array.from({ length: 10 }, (_, i) => pong(`ping ${i}`)),
  },
  {
    group: "Ping/pong",
    title: "ten pings written frame by frame",
    autobahn: "2.11",
    send: () => Array.from({ length: 10 }, (_, i) => pingFrame(`ping ${i}`)),
    write: "per-frame",
    expect: Array.from({ length: 10 }, (_, i) => pong(`ping ${i}`)),
  },
  {
    group: "Ping/pong",
    title: "ping with a 16-bit length field carrying 125 bytes",
    send: () => [pingFrame(filled(125), { lengthEncoding: 16 })],
    // Control payloads fit in the 7-bit field (RFC 6455 §5.5); a 16-bit field marks a long frame.
    expect: [PROTOCOL_ERROR],
  },
];

// ---------------------------------------------------------------------------------------------
// 3. Reserved bits (Autobahn 3.x)
const rsv: FrameCase[] = [
  { group: "Reserved bits", title: "RSV1 on text, no extension", autobahn: "3.1", send: () => [textFrame("Hello", { rsv1: true })], expect: [PROTOCOL_ERROR] },
  {
    group: "Reserved bits",
    title: "echo, then a frame with RSV2, then a ping (no pong)",
    autobahn: "3.2",
    send: () => [textFrame("Hello"), textFrame("Hello", { rsv2: true }), pingFrame()],
    expect: [echoText("Hello"), PROTOCOL_ERROR],
  },
  {
    group: "Reserved bits",
    title: "same, written frame by frame",
    autobahn: "3.3",
    send: () => [textFrame("Hello"), textFrame("Hello", { rsv1: true, rsv2: true }), pingFrame()],
    write: "per-frame",
    expect: [echoText("Hello"), PROTOCOL_ERROR],
  },
  { group: "Reserved bits", title: "RSV3 on text", autobahn: "3.4", send: () => [textFrame("Hello", { rsv3: true })], expect: [PROTOCOL_ERROR] },
  { group: "Reserved bits", title: "RSV1+RSV3 on binary", autobahn: "3.5", send: () => [binaryFrame(b([0, 1, 2]), { rsv1: true, rsv3: true })], expect: [PROTOCOL_ERROR] },
  { group: "Reserved bits", title: "RSV2+RSV3 on ping", autobahn: "3.6", send: () => [pingFrame("Hello", { rsv2: true, rsv3: true })], expect: [PROTOCOL_ERROR] },
  { group: "Reserved bits", title: "all RSV bits on close", autobahn: "3.7", send: () => [closeFrame(1000, "", { rsv1: true, rsv2: true, rsv3: true })], expect: [PROTOCOL_ERROR] },
  {
    group: "Reserved bits",
    title: "RSV1 on a continuation frame",
    send: () => [textFrame("He", { fin: false }), continuationFrame("llo", { rsv1: true })],
    expect: [PROTOCOL_ERROR],
  },
];

// ---------------------------------------------------------------------------------------------
// 4. Opcodes (Autobahn 4.x)
const opcodes: FrameCase[] = [];
for (const opcode of [3, 4, 5, 6, 7]) {
  opcodes.push({
    group: "Opcodes",
    title: `reserved non-control opcode ${opcode}`,
    autobahn: "4.1.1-4.1.5",
    send: () => [buildFrame({ opcode, payload: opcode % 2 ? "" : "reserved" })],
    expect: [PROTOCOL_ERROR],
  });
}
for (const opcode of [0xb, 0xc, 0xd, 0xe, 0xf]) {
  opcodes.push({
    group: "Opcodes",
    title: `reserved control opcode ${opcode}`,
    autobahn: "4.2.1-4.2.5",
    send: () => [buildFrame({ opcode, payload: opcode % 2 ? "" : "reserved" })],
    expect: [PROTOCOL_ERROR],
  });
}
opcodes.push(
  {
    group: "Opcodes",
    title: "echo, reserved opcode 4, ping: echo then 1002, no pong",
    autobahn: "4.1.3",
    send: () => [textFrame("Hello"), buildFrame({ opcode: 4, payload: "x" }), pingFrame()],
    expect: [echoText("Hello"), PROTOCOL_ERROR],
  },
  {
    group: "Opcodes",
    title: "echo, reserved opcode 0xB, ping, frame by frame",
    autobahn: "4.2.4",
    send: () => [textFrame("Hello"), buildFrame({ opcode: 0xb, payload: "x" }), pingFrame()],
    write: "per-frame",
    expect: [echoText("Hello"), PROTOCOL_ERROR],
  },
);

// ---------------------------------------------------------------------------------------------
// 5. Fragmentation (Autobahn 5.x)
const fragmentation: FrameCase[] = [
  { group: "Fragmentation", title: "ping in two fragments", autobahn: "5.1", send: () => fragmentedMessage(Opcode.ping, ["frag", "ment"]), expect: [PROTOCOL_ERROR] },
  { group: "Fragmentation", title: "pong in two fragments", autobahn: "5.2", send: () => fragmentedMessage(Opcode.pong, ["frag", "ment"]), expect: [PROTOCOL_ERROR] },
  { group: "Fragmentation", title: "text in two fragments", autobahn: "5.3", send: () => fragmentedMessage(Opcode.text, ["frag", "ment"]), expect: [echoText("fragment")] },
  {
    group: "Fragmentation",
    title: "text in two fragments, frame by frame",
    autobahn: "5.4",
    send: () => fragmentedMessage(Opcode.text, ["frag", "ment"]),
    write: "per-frame",
    expect: [echoText("fragment")],
  },
  {
    group: "Fragmentation",
    title: "binary in 100 fragments",
    send: () => fragmentedMessage(Opcode.binary, splitInto(filled(1000, 7), 100)),
    expect: [echoBinary(filled(1000, 7))],
  },
  {
    group: "Fragmentation",
    title: "text in fragments with a ping in between: pong first",
    autobahn: "5.6",
    send: () => {
      const [first, second] = fragmentedMessage(Opcode.text, ["frag", "ment"]) as [Buffer, Buffer];
      return [first, pingFrame("ping payload"), second];
    },
    expect: [pong("ping payload"), echoText("fragment")],
  },
  {
    group: "Fragmentation",
    title: "same, frame by frame",
    autobahn: "5.7",
    send: () => {
      const [first, second] = fragmentedMessage(Opcode.text, ["frag", "ment"]) as [Buffer, Buffer];
      return [first, pingFrame("ping payload"), second];
    },
    write: "per-frame",
    expect: [pong("ping payload"), echoText("fragment")],
  },
  {
    group: "Fragmentation",
    title: "same, byte by byte",
    autobahn: "5.8",
    send: () => {
      const [first, second] = fragmentedMessage(Opcode.text, ["frag", "ment"]) as [Buffer, Buffer];
      return [first, pingFrame("ping payload"), second];
    },
    write: "per-byte",
    expect: [pong("ping payload"), echoText("fragment")],
  },
  {
    group: "Fragmentation",
    title: "unsolicited pongs between fragments are ignored",
    send: () => {
      const [first, second, third] = fragmentedMessage(Opcode.binary, ["a", "b", "c"]) as [Buffer, Buffer, Buffer];
      return [first, pongFrame("x"), second, pongFrame(), third];
    },
    expect: [echoBinary("abc")],
  },
  {
    group: "Fragmentation",
    title: "continuation (FIN) without a start",
    autobahn: "5.9",
    send: () => [continuationFrame("fragment"), textFrame("Hello")],
    expect: [PROTOCOL_ERROR],
  },
  {
    group: "Fragmentation",
    title: "continuation (no FIN) without a start",
    autobahn: "5.12",
    send: () => [continuationFrame("fragment", { fin: false }), textFrame("Hello")],
    expect: [PROTOCOL_ERROR],
  },
  {
    group: "Fragmentation",
    title: "continuation without a start, frame by frame",
    autobahn: "5.10",
    send: () => [continuationFrame("fragment"), textFrame("Hello")],
    write: "per-frame",
    expect: [PROTOCOL_ERROR],
  },
  {
    group: "Fragmentation",
    title: "a new text message before the last one finished",
    autobahn: "5.18",
    send: () => [textFrame("frag", { fin: false }), textFrame("ment")],
    expect: [PROTOCOL_ERROR],
  },
  {
    group: "Fragmentation",
    title: "a binary message inside an unfinished text message",
    send: () => [textFrame("frag", { fin: false }), binaryFrame("ment", { fin: false }), continuationFrame("!")],
    expect: [PROTOCOL_ERROR],
  },
  {
    group: "Fragmentation",
    title: "a complete message, then a continuation after it",
    send: () => [...fragmentedMessage(Opcode.text, ["a", "b"]), continuationFrame("c")],
    expect: [echoText("ab"), PROTOCOL_ERROR],
  },
  {
    group: "Fragmentation",
    title: "empty fragments around the payload",
    autobahn: "5.15-5.17",
    send: () => fragmentedMessage(Opcode.text, ["", "", "Hello", "", ""]),
    expect: [echoText("Hello")],
  },
  {
    group: "Fragmentation",
    title: "two fragmented messages with pings, byte by byte",
    autobahn: "5.19-5.20",
    send: () => {
      const [a1, a2] = fragmentedMessage(Opcode.text, ["fragment1", "fragment2"]) as [Buffer, Buffer];
      const [b1, b2] = fragmentedMessage(Opcode.binary, ["fragment3", "fragment4"]) as [Buffer, Buffer];
      return [a1, pingFrame("p1"), a2, b1, pingFrame("p2"), b2];
    },
    write: "per-byte",
    expect: [pong("p1"), echoText("fragment1fragment2"), pong("p2"), echoBinary("fragment3fragment4")],
  },
  {
    group: "Fragmentation",
    title: "close frame between fragments: close echoed, partial message dropped",
    send: () => [textFrame("partial", { fin: false }), closeFrame(1000)],
    expect: [closedWith(1000)],
  },
];

// ---------------------------------------------------------------------------------------------
// 6. UTF-8 handling (Autobahn 6.x)
const VALID_UTF8: Array<[string, Buffer]> = [
  ["Hello-µ@ßöäüàá-UTF-8!!", utf8("Hello-µ@ßöäüàá-UTF-8!!")],
  ["κόσμε", utf8("κόσμε")],
  ["first of each length U+0000 U+0080 U+0800 U+10000", b([0x00, 0xc2, 0x80, 0xe0, 0xa0, 0x80, 0xf0, 0x90, 0x80, 0x80])],
  ["last of each length U+007F U+07FF U+FFFF U+10FFFF", b([0x7f, 0xdf, 0xbf, 0xef, 0xbf, 0xbf, 0xf4, 0x8f, 0xbf, 0xbf])],
  ["around the surrogates U+D7FF U+E000 U+FFFD", b([0xed, 0x9f, 0xbf, 0xee, 0x80, 0x80, 0xef, 0xbf, 0xbd])],
  ["noncharacters U+FFFE U+FFFF", b([0xef, 0xbf, 0xbe, 0xef, 0xbf, 0xbf])],
  ["emoji U+1F600", utf8("\u{1F600}")],
];
const INVALID_UTF8: Array<[string, Buffer]> = [
  ["lone continuation byte 0x80", b([0x80])],
  ["continuation bytes 0x80 0xBF 0x80", b([0x80, 0xbf, 0x80])],
  ["start byte followed by space", b([0xc0, 0x20])],
  ["truncated 2-byte sequence at the end", b([0x48, 0xce])],
  ["truncated 3-byte sequence", b([0xe0, 0x80])],
  ["truncated 4-byte sequence", b([0xf0, 0x90, 0x80])],
  ["impossible bytes 0xFE 0xFF", b([0xfe, 0xff])],
  ["overlong '/' C0 AF", b([0xc0, 0xaf])],
  ["overlong '/' E0 80 AF", b([0xe0, 0x80, 0xaf])],
  ["overlong '/' F0 80 80 AF", b([0xf0, 0x80, 0x80, 0xaf])],
  ["maximum overlong E0 9F BF", b([0xe0, 0x9f, 0xbf])],
  ["code point U+110000 (F4 90 80 80)", b([0xf4, 0x90, 0x80, 0x80])],
  ["code point U+1FFFFF (F7 BF BF BF)", b([0xf7, 0xbf, 0xbf, 0xbf])],
  ["5-byte sequence", b([0xf8, 0x88, 0x80, 0x80, 0x80])],
  ["6-byte sequence", b([0xfc, 0x84, 0x80, 0x80, 0x80, 0x80])],
  ["surrogate U+D800", b([0xed, 0xa0, 0x80])],
  ["surrogate U+DBFF", b([0xed, 0xaf, 0xbf])],
  ["surrogate U+DC00", b([0xed, 0xb0, 0x80])],
  ["surrogate U+DFFF", b([0xed, 0xbf, 0xbf])],
  ["surrogate pair encoded as two code points", b([0xed, 0xa0, 0x80, 0xed, 0xb0, 0x80])],
  ["valid text with a surrogate inside", Buffer.concat([utf8("κόσμε"), b([0xed, 0xa0, 0x80]), utf8("edited")])],
];
const utf8Cases: FrameCase[] = [];
for (const [name, bytes] of VALID_UTF8) {
  utf8Cases.push({ group: "UTF-8", title: `valid: ${name}`, autobahn: "6.2, 6.5-6.7", send: () => [textFrame(bytes)], expect: [echoText(bytes)] });
}
for (const [name, bytes] of INVALID_UTF8) {
  utf8Cases.push({ group: "UTF-8", title: `invalid: ${name}`, autobahn: "6.3-6.21", send: () => [textFrame(bytes)], expect: [INVALID_PAYLOAD] });
}
const HELLO_UTF8 = utf8("Hello-µ@ßöäüàá-UTF-8!!");
const KOSME_SURROGATE = Buffer.concat([utf8("κόσμε"), b([0xed, 0xa0, 0x80]), utf8("edited")]);
utf8Cases.push(
  {
    group: "UTF-8",
    title: "valid text in 1-byte fragments (characters split across frames)",
    autobahn: "6.2.3",
    send: () => fragmentedMessage(Opcode.text, splitInto(HELLO_UTF8, HELLO_UTF8.length)),
    expect: [echoText(HELLO_UTF8)],
  },
  {
    group: "UTF-8",
    title: "4-byte character split 2+2 across fragments",
    autobahn: "6.2.4",
    send: () => fragmentedMessage(Opcode.text, [b([0xf0, 0x9d]), b([0x84, 0x9e])]),
    expect: [echoText(b([0xf0, 0x9d, 0x84, 0x9e]))],
  },
  {
    group: "UTF-8",
    title: "surrogate split across 1-byte fragments",
    autobahn: "6.3.2",
    send: () => fragmentedMessage(Opcode.text, splitInto(KOSME_SURROGATE, KOSME_SURROGATE.length)),
    expect: [INVALID_PAYLOAD],
  },
  {
    group: "UTF-8",
    title: "code point over U+10FFFF split across fragments",
    send: () => fragmentedMessage(Opcode.text, [b([0x41, 0xf4]), b([0x90, 0x80, 0x80])]),
    expect: [INVALID_PAYLOAD],
  },
  {
    group: "UTF-8",
    title: "invalid first fragment, valid rest",
    autobahn: "6.4.1",
    send: () => fragmentedMessage(Opcode.text, [KOSME_SURROGATE, utf8("edited")]),
    expect: [INVALID_PAYLOAD],
  },
  {
    group: "UTF-8",
    title: "truncated sequence at the end of the last fragment",
    send: () => fragmentedMessage(Opcode.text, [utf8("abc"), b([0xe2, 0x82])]),
    expect: [INVALID_PAYLOAD],
  },
  {
    group: "UTF-8",
    title: "invalid UTF-8 in a binary message is not checked",
    send: () => [binaryFrame(b([0xff, 0xfe, 0xed, 0xa0, 0x80]))],
    expect: [echoBinary(b([0xff, 0xfe, 0xed, 0xa0, 0x80]))],
  },
  {
    group: "UTF-8",
    title: "invalid UTF-8 in a ping payload is not checked",
    send: () => [pingFrame(b([0xff, 0xfe]))],
    expect: [pong(b([0xff, 0xfe]))],
  },
);

// ---------------------------------------------------------------------------------------------
// 7. Close handling (Autobahn 7.x)
const closeCases: FrameCase[] = [
  { group: "Close", title: "close, empty payload", autobahn: "7.3.1", send: () => [closeFrame()], expect: [closedWith(undefined, 1000)] },
  { group: "Close", title: "close, 1-byte payload", autobahn: "7.3.2", send: () => [buildFrame({ opcode: Opcode.close, payload: b([0x03]) })], expect: [PROTOCOL_ERROR] },
  { group: "Close", title: "close 1000, no reason", autobahn: "7.3.3", send: () => [closeFrame(1000)], expect: [closedWith(1000)] },
  { group: "Close", title: "close 1000 with a reason", autobahn: "7.3.4", send: () => [closeFrame(1000, "Hello World!")], expect: [closedWith(1000)] },
  { group: "Close", title: "close 1000, 123-byte reason (largest)", autobahn: "7.3.5", send: () => [closeFrame(1000, "*".repeat(123))], expect: [closedWith(1000)] },
  { group: "Close", title: "close 1000, 124-byte reason (payload 126)", autobahn: "7.3.6", send: () => [closeFrame(1000, "*".repeat(124))], expect: [PROTOCOL_ERROR] },
  { group: "Close", title: "close reason with invalid UTF-8", autobahn: "7.5.1", send: () => [closeFrame(1000, KOSME_SURROGATE)], expect: [INVALID_PAYLOAD] },
  { group: "Close", title: "close reason with valid multi-byte UTF-8", send: () => [closeFrame(1000, "κόσμε")], expect: [closedWith(1000)] },
  {
    group: "Close",
    title: "text after close is ignored",
    autobahn: "7.1.2",
    send: () => [closeFrame(1000), textFrame("after close")],
    expect: [closedWith(1000)],
  },
  {
    group: "Close",
    title: "ping after close is not answered",
    autobahn: "7.1.3",
    send: () => [closeFrame(1000), pingFrame("after close")],
    expect: [closedWith(1000)],
  },
  {
    group: "Close",
    title: "second close frame is ignored",
    autobahn: "7.1.4",
    send: () => [closeFrame(1000), closeFrame(1001)],
    expect: [closedWith(1000)],
  },
  {
    group: "Close",
    title: "fragment after close is ignored",
    autobahn: "7.1.5",
    send: () => [textFrame("fragment1", { fin: false }), closeFrame(1000), continuationFrame("fragment2")],
    expect: [closedWith(1000)],
  },
  {
    group: "Close",
    title: "message then close: echo then close",
    autobahn: "7.1.1",
    send: () => [textFrame("Hello World!"), closeFrame(1000)],
    expect: [echoText("Hello World!"), closedWith(1000)],
  },
  {
    group: "Close",
    title: "garbage bytes after close are ignored",
    send: () => [closeFrame(1000), b([0xff, 0xff, 0xff, 0xff, 0x00])],
    expect: [closedWith(1000)],
  },
];
/** RFC 6455 §7.4.1 and IANA: codes a peer may send. */
export const VALID_CLOSE_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
/** Codes that must never appear on the wire (reserved, unassigned or out of range). */
export const INVALID_CLOSE_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
for (const code of VALID_CLOSE_CODES) {
  closeCases.push({ group: "Close codes", title: `valid code ${code} echoed`, autobahn: "7.7.x", send: () => [closeFrame(code, "")], expect: [closedWith(code)] });
}
for (const code of INVALID_CLOSE_CODES) {
  closeCases.push({
    group: "Close codes",
    title: `invalid code ${code} refused with 1002`,
    autobahn: "7.9.x",
    send: () => [buildFrame({ opcode: Opcode.close, payload: closePayload(code) })],
    expect: [PROTOCOL_ERROR],
  });
}

// ---------------------------------------------------------------------------------------------
// 8. Limits (maxMessageSize 64 KiB in the "limits" profile)
const LIMIT = PROFILES.limits.maxMessageSize;
const limits: FrameCase[] = [
  { group: "Limits", title: "message of exactly maxMessageSize", profile: "limits", send: () => [binaryFrame(filled(LIMIT))], expect: [echoBinary(filled(LIMIT))] },
  { group: "Limits", title: "message of maxMessageSize + 1", profile: "limits", send: () => [binaryFrame(filled(LIMIT + 1))], expect: [TOO_BIG] },
  {
    group: "Limits",
    title: "text of exactly maxMessageSize in 64 fragments",
    profile: "limits",
    send: () => fragmentedMessage(Opcode.text, splitInto(filled(LIMIT), 64)),
    expect: [echoText(filled(LIMIT))],
  },
  {
    group: "Limits",
    title: "maxMessageSize + 1 spread over 65 fragments",
    profile: "limits",
    send: () => fragmentedMessage(Opcode.text, [...splitInto(filled(LIMIT), 64), filled(1)]),
    expect: [TOO_BIG],
  },
  {
    group: "Limits",
    title: "header announcing 2^32 bytes, no payload sent",
    profile: "limits",
    send: () => [buildFrame({ opcode: Opcode.binary, declaredLength: 2 ** 32, payload: "" })],
    expect: [TOO_BIG],
  },
  {
    group: "Limits",
    title: "20,000 empty fragments",
    profile: "limits",
    send: () => [...fragmentedMessage(Opcode.binary, Array.from({ length: 20_000 }, () => ""))],
    expect: [closedWith(1008, 1009)],
  },
];

// Legal large messages in small fragments (Autobahn 9.3.x, 9.4.x) pass; the fragment-flood defence
// (maxFragments) grows with maxMessageSize: 16 MiB / 64 = 262144 fragments.
const FOUR_MIB = 4 * 1024 * 1024;
const largeFragmented: FrameCase[] = [
  {
    group: "Limits",
    title: "4 MiB text in 64-byte fragments under a 16 MiB limit",
    autobahn: "9.3.1",
    profile: "large",
    send: () => fragmentedMessage(Opcode.text, splitInto(filled(FOUR_MIB, 0x61), FOUR_MIB / 64)),
    expect: [echoText(filled(FOUR_MIB, 0x61))],
  },
  {
    group: "Limits",
    title: "4 MiB binary in 64-byte fragments under a 16 MiB limit",
    autobahn: "9.4.1",
    profile: "large",
    send: () => fragmentedMessage(Opcode.binary, splitInto(filled(FOUR_MIB, 0x07), FOUR_MIB / 64)),
    expect: [echoBinary(filled(FOUR_MIB, 0x07))],
  },
  {
    group: "Limits",
    title: "270,000 empty fragments under a 16 MiB limit (over maxFragments)",
    profile: "large",
    send: () => fragmentedMessage(Opcode.binary, Array.from({ length: 270_000 }, () => "")),
    expect: [closedWith(1008)],
  },
];

// ---------------------------------------------------------------------------------------------
// 9. permessage-deflate frames (Autobahn 12.x, 13.x; RFC 7692 §6, §7.2)
const DEFLATE = "permessage-deflate; client_max_window_bits";
const deflate: FrameCase[] = [
  {
    group: "Compression",
    title: "compressed text echoed",
    autobahn: "12.1.x",
    profile: "deflate",
    extensions: DEFLATE,
    send: () => [textFrame(deflateMessage("Hello, compressed world!"), { rsv1: true })],
    expect: [echoText("Hello, compressed world!")],
  },
  {
    group: "Compression",
    title: "compressed binary, 16 KiB",
    autobahn: "12.1.x",
    profile: "deflate",
    extensions: DEFLATE,
    send: () => [binaryFrame(deflateMessage(filled(16_384, 3)), { rsv1: true })],
    expect: [echoBinary(filled(16_384, 3))],
  },
  {
    group: "Compression",
    title: "uncompressed text on a deflate connection",
    profile: "deflate",
    extensions: DEFLATE,
    send: () => [textFrame("plain")],
    expect: [echoText("plain")],
  },
  {
    group: "Compression",
    title: "ten compressed messages in a row",
    autobahn: "13.x",
    profile: "deflate",
    extensions: DEFLATE,
    send: () => Array.from({ length: 10 }, (_, i) => textFrame(deflateMessage(`message ${i} `.repeat(20)), { rsv1: true })),
    expect: Array.from({ length: 10 }, (_, i) => echoText(`message ${i} `.repeat(20))),
  },
  {
    group: "Compression",
    title: "compressed message in fragments (RSV1 on the first only)",
    profile: "deflate",
    extensions: DEFLATE,
    send: () => {
      const parts = splitInto(deflateMessage("fragmented and compressed ".repeat(40)), 5);
      return parts.map((part, i) =>
        buildFrame({ opcode: i === 0 ? Opcode.text : Opcode.continuation, payload: part, fin: i === parts.length - 1, rsv1: i === 0 }),
      );
    },
    expect: [echoText("fragmented and compressed ".repeat(40))],
  },
  {
    group: "Compression",
    title: "compressed with a 9-bit window (client_max_window_bits=9 offered)",
    profile: "deflate",
    extensions: "permessage-deflate; client_max_window_bits=9",
    send: () => [textFrame(deflateMessage("window ".repeat(300), 9), { rsv1: true })],
    expect: [echoText("window ".repeat(300))],
  },
  {
    group: "Compression",
    title: "RSV1 on a continuation frame",
    profile: "deflate",
    extensions: DEFLATE,
    send: () => [textFrame(deflateMessage("ab"), { rsv1: true, fin: false }), continuationFrame(deflateMessage("cd"), { rsv1: true })],
    expect: [PROTOCOL_ERROR],
  },
  {
    group: "Compression",
    title: "RSV1 on a ping",
    profile: "deflate",
    extensions: DEFLATE,
    send: () => [pingFrame(deflateMessage("ping"), { rsv1: true })],
    expect: [PROTOCOL_ERROR],
  },
  {
    group: "Compression",
    title: "corrupt deflate data",
    profile: "deflate",
    extensions: DEFLATE,
    send: () => [textFrame(b([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), { rsv1: true })],
    expect: [closedWith(1007, 1002)],
  },
  {
    group: "Compression",
    title: "compressed text that inflates to invalid UTF-8",
    profile: "deflate",
    extensions: DEFLATE,
    send: () => [textFrame(deflateMessage(KOSME_SURROGATE), { rsv1: true })],
    expect: [INVALID_PAYLOAD],
  },
  {
    group: "Compression",
    title: "inflates to exactly maxMessageSize",
    profile: "deflate",
    extensions: DEFLATE,
    send: () => [binaryFrame(deflateMessage(filled(LIMIT)), { rsv1: true })],
    expect: [echoBinary(filled(LIMIT))],
  },
  {
    group: "Compression",
    title: "deflate bomb: 1 KiB on the wire, 16 MiB inflated",
    profile: "deflate",
    extensions: DEFLATE,
    send: () => [binaryFrame(deflateMessage(Buffer.alloc(16 * 1024 * 1024)), { rsv1: true })],
    expect: [TOO_BIG],
  },
  {
    group: "Compression",
    title: "deflate bomb spread over fragments",
    profile: "deflate",
    extensions: DEFLATE,
    send: () => {
      const parts = splitInto(deflateMessage(Buffer.alloc(4 * 1024 * 1024)), 8);
      return parts.map((part, i) =>
        buildFrame({ opcode: i === 0 ? Opcode.binary : Opcode.continuation, payload: part, fin: i === parts.length - 1, rsv1: i === 0 }),
      );
    },
    expect: [TOO_BIG],
  },
  {
    group: "Compression",
    title: "RSV1 data frame when deflate was not negotiated (offer declined by client)",
    profile: "deflate",
    extensions: null,
    send: () => [textFrame(deflateMessage("Hello"), { rsv1: true })],
    expect: [PROTOCOL_ERROR],
  },
];

/** Every frame-level case, grouped as in docs/conformance.md. */
export const FRAME_CASES: FrameCase[] = [
  ...framing,
  ...pings,
  ...rsv,
  ...opcodes,
  ...fragmentation,
  ...utf8Cases,
  ...closeCases,
  ...limits,
  ...largeFragmented,
  ...deflate,
];
