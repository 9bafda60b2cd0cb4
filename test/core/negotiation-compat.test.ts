/**
 * The ws exports wsmount drives (undocumented: Receiver, Sender, PerMessageDeflate, the extension header
 * tools): found on the ws installed and checked by running them at start-up; a shape or behaviour that
 * changed is detected, and compression is then declined instead of failing handshakes.
 */
import { describe, expect, test } from "vitest";
import * as ws from "ws";
import { acceptableOffers, negotiateDeflate } from "../../core/upgrade/negotiation.js";
import { closeCodeOf, probeEngineParts, probedEngineParts, type EngineParts } from "../../core/ws-compat.js";

const DEFLATE = { serverNoContextTakeover: undefined, clientNoContextTakeover: false };
const real = ws as unknown as EngineParts;

describe("ws engine parts", () => {
  test("are found on the installed ws, pass the start-up check and negotiate offers", () => {
    expect(probedEngineParts).not.toBeNull();
    expect(acceptableOffers("permessage-deflate; bogus_param, permessage-deflate", DEFLATE, 1024)).toBe("permessage-deflate");
    const accepted = negotiateDeflate("permessage-deflate; bogus_param, permessage-deflate; client_max_window_bits", DEFLATE, 1024);
    expect(accepted?.header).toBe("permessage-deflate");
    expect(accepted?.deflate.params).toEqual({});
    accepted?.deflate.cleanup();
  });

  test("a changed shape or behaviour is detected at start-up, and offers are then declined", () => {
    expect(probeEngineParts({})).toBeNull();
    expect(probeEngineParts({ ...pick(real), extension: { parse: real.extension.parse, format: () => "other" } })).toBeNull();
    expect(probeEngineParts({ ...pick(real), PerMessageDeflate: class {} as never })).toBeNull();
    // A Receiver that parses nothing, a Sender that frames differently.
    class DeafReceiver extends real.Receiver {
      override write(): boolean {
        return true;
      }
    }
    expect(probeEngineParts({ ...pick(real), Receiver: DeafReceiver })).toBeNull();
    class MaskingSender extends real.Sender {
      override send(data: unknown, options: Parameters<InstanceType<EngineParts["Sender"]>["send"]>[1]): void {
        super.send(data, { ...options, mask: true });
      }
    }
    expect(probeEngineParts({ ...pick(real), Sender: MaskingSender })).toBeNull();
    expect(probeEngineParts(pick(real))).not.toBeNull();
    expect(acceptableOffers("permessage-deflate", DEFLATE, 1024, null)).toBeUndefined();
    expect(negotiateDeflate("permessage-deflate", DEFLATE, 1024, null)).toBeUndefined();
  });

  test("a receiver error gives its close code, from ws's own field or else from the error's code", () => {
    const withSymbol = Object.assign(new Error("x"), { [Symbol("status-code")]: 1009 });
    expect(closeCodeOf(withSymbol)).toBe(1009);
    expect(closeCodeOf(Object.assign(new Error("x"), { code: "WS_ERR_INVALID_UTF8" }))).toBe(1007);
    expect(closeCodeOf(Object.assign(new Error("x"), { code: "Z_DATA_ERROR" }))).toBe(1007);
    expect(closeCodeOf(Object.assign(new Error("x"), { code: "WS_ERR_TOO_MANY_BUFFERED_PARTS" }))).toBe(1008);
    expect(closeCodeOf(Object.assign(new Error("x"), { code: "WS_ERR_INVALID_OPCODE" }))).toBe(1002);
    expect(closeCodeOf(new Error("x"))).toBe(1002);
  });
});

function pick(parts: EngineParts): EngineParts {
  return { Receiver: parts.Receiver, Sender: parts.Sender, PerMessageDeflate: parts.PerMessageDeflate, extension: parts.extension };
}
