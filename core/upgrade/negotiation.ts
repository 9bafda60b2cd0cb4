/**
 * permessage-deflate offers as RFC 7692 section 5 wants them handled: an offer with an unknown,
 * invalid or repeated parameter, or one the server cannot honour, is declined (left out of the
 * answer), not a reason to fail the handshake. `ws` fails the whole handshake on the first such
 * offer, so the header is filtered before `ws` sees it.
 * @module
 */
import * as ws from "ws";

interface ExtensionTools {
  extension: {
    parse(header: string): Record<string, Array<Record<string, Array<string | true>>>>;
    format(extensions: Record<string, Array<Record<string, Array<string | true>>>>): string;
  };
  PerMessageDeflate: new (options: Record<string, unknown>) => { accept(offers: unknown[]): unknown; cleanup(): void };
}

// Public exports of ws's ESM entry that @types/ws does not declare.
const { extension, PerMessageDeflate } = ws as unknown as ExtensionTools;

const NAME = "permessage-deflate";

/**
 * The `Sec-WebSocket-Extensions` header with only the permessage-deflate offers this server can
 * accept, or `undefined` when none is left (the connection goes on uncompressed).
 */
export function acceptableOffers(header: string, deflateOptions: Record<string, unknown>, maxPayload: number): string | undefined {
  let offers: ReturnType<ExtensionTools["extension"]["parse"]>;
  try {
    offers = extension.parse(header);
  } catch {
    return undefined;
  }
  const kept = (offers[NAME] ?? []).filter((offer) => {
    const deflate = new PerMessageDeflate({ ...deflateOptions, isServer: true, maxPayload });
    try {
      deflate.accept([offer]);
      return true;
    } catch {
      return false;
    } finally {
      deflate.cleanup();
    }
  });
  return kept.length === 0 ? undefined : extension.format({ [NAME]: kept });
}
