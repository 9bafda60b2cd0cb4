/**
 * What signing costs the Redis broker per publication, without Redis: the publishing process encodes
 * and signs it once, every other process checks and decodes it once. Both are measured with the
 * secret and with `secret: false`, for a few payload sizes; the difference is the signature's price.
 *
 *   npx tsx bench/cluster/signing.ts [--runs 5] [--iterations 50000]
 *
 * Prints µs per publication (median over the runs): "publish" is encoding and signing, "receive" is
 * reading, checking the signature and decoding; and the machine's load average, which matters on a
 * shared machine.
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { Signer, channelTag } from "../../adapters/redis/signing.js";
import { decodePublication, encodePublication, readBody, readEnvelope, type Sender } from "../../adapters/redis/wire.js";
import type { Publication } from "../../core/index.js";

const { values } = parseArgs({ options: { runs: { type: "string", default: "5" }, iterations: { type: "string", default: "50000" } } });
const runs = Number(values.runs);
const iterations = Number(values.iterations);

const channel = "chat-prod:default:pub";
const tag = channelTag(channel);
const signed = new Signer([Buffer.from("a benchmark secret of 32 bytes or more, not a real one")]);
const unsigned = new Signer([]);

function sender(signer: Signer): Sender {
  let seq = 0;
  return { signer, node: "bench-node-1", next: () => ++seq };
}

/** An event envelope of about `size` bytes, as `ws.to("room").emit(...)` publishes it. */
function publication(size: number): Publication {
  const data = `wsm1["e","said",{"text":"${"x".repeat(Math.max(0, size - 40))}"}]`;
  return { to: ["lobby"], except: [], data, binary: false };
}

function receive(signer: Signer, message: Buffer): Publication {
  const envelope = readEnvelope(message)!;
  if (signer.verify(tag, message, envelope.keyId) !== "ok") throw new Error("refused");
  return decodePublication(readBody(message, envelope)!)!;
}

function microseconds(run: () => void): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) run();
  return Number(process.hrtime.bigint() - start) / iterations / 1000;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

console.log(`Node ${process.version}, ${iterations} publications per run, ${runs} runs, load average before: ${loadavg().map((n) => n.toFixed(1)).join(" ")}`);
console.log("| payload | publish, signed | publish, unsigned | receive, signed | receive, unsigned |");
console.log("|---:|---:|---:|---:|---:|");
for (const size of [130, 1024, 16_384]) {
  const item = publication(size);
  const results = { sendSigned: [] as number[], sendUnsigned: [] as number[], receiveSigned: [] as number[], receiveUnsigned: [] as number[] };
  const signedMessage = encodePublication(sender(signed), tag, item);
  const unsignedMessage = encodePublication(sender(unsigned), tag, item);
  for (let run = 0; run < runs; run++) {
    const signing = sender(signed);
    const plain = sender(unsigned);
    results.sendSigned.push(microseconds(() => encodePublication(signing, tag, item)));
    results.sendUnsigned.push(microseconds(() => encodePublication(plain, tag, item)));
    results.receiveSigned.push(microseconds(() => receive(signed, signedMessage)));
    results.receiveUnsigned.push(microseconds(() => receive(unsigned, unsignedMessage)));
  }
  const f = (values: number[]) => median(values).toFixed(2);
  console.log(`| ${size} B | ${f(results.sendSigned)} µs | ${f(results.sendUnsigned)} µs | ${f(results.receiveSigned)} µs | ${f(results.receiveUnsigned)} µs |`);
}
console.log(`load average after: ${loadavg().map((n) => n.toFixed(1)).join(" ")}`);
