/**
 * The ws exports permessage-deflate negotiation relies on (undocumented): found on the ws installed,
 * and a shape that changed turns compression off instead of failing handshakes.
 */
import { describe, expect, test } from "vitest";
import * as ws from "ws";
import { acceptableOffers, extensionTools, probeExtensionTools } from "../../core/upgrade/negotiation.js";

const DEFLATE = { serverNoContextTakeover: undefined, clientNoContextTakeover: false };

describe("ws extension tools", () => {
  test("are found on the installed ws and filter offers", () => {
    expect(extensionTools).not.toBeNull();
    expect(acceptableOffers("permessage-deflate; bogus_param, permessage-deflate", DEFLATE, 1024)).toBe("permessage-deflate");
  });

  test("a changed shape is detected at start-up, and offers are then declined", () => {
    const real = ws as unknown as { extension: { parse: unknown; format: unknown }; PerMessageDeflate: unknown };
    expect(probeExtensionTools({})).toBeNull();
    expect(probeExtensionTools({ extension: { parse: real.extension.parse, format: () => "other" } as never, PerMessageDeflate: real.PerMessageDeflate as never })).toBeNull();
    expect(probeExtensionTools({ extension: real.extension as never, PerMessageDeflate: class {} as never })).toBeNull();
    expect(acceptableOffers("permessage-deflate", DEFLATE, 1024, null)).toBeUndefined();
  });
});
