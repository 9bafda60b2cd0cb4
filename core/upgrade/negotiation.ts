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

/**
 * Exports of ws's ESM entry that ws does not document (and @types/ws does not declare), checked once
 * when this module loads. When their shape is not the expected one, offers are not filtered: every
 * connection goes on uncompressed (the offer is declined) rather than risking a failed handshake.
 */
export const extensionTools: ExtensionTools | null = probeExtensionTools(ws as unknown as Partial<ExtensionTools>);

/** @internal exported for the test of the fallback */
export function probeExtensionTools(candidate: Partial<ExtensionTools>): ExtensionTools | null {
  try {
    const { extension, PerMessageDeflate } = candidate;
    if (typeof extension?.parse !== "function" || typeof extension.format !== "function" || typeof PerMessageDeflate !== "function") return null;
    if (typeof PerMessageDeflate.prototype?.accept !== "function" || typeof PerMessageDeflate.prototype.cleanup !== "function") return null;
    // A known offer must come back as ws formats it.
    const parsed = extension.parse("permessage-deflate; client_max_window_bits");
    if (extension.format(parsed) !== "permessage-deflate; client_max_window_bits") return null;
    return { extension, PerMessageDeflate };
  } catch {
    return null;
  }
}

const NAME = "permessage-deflate";

/** Offers looked at, at most: each costs a trial `PerMessageDeflate`; browsers send one or two. */
export const MAX_DEFLATE_OFFERS = 8;

/**
 * The `Sec-WebSocket-Extensions` header with only the permessage-deflate offers this server can
 * accept, or `undefined` when none is left (the connection goes on uncompressed).
 */
export function acceptableOffers(header: string, deflateOptions: Record<string, unknown>, maxPayload: number, tools = extensionTools): string | undefined {
  if (tools === null) return undefined;
  const { extension, PerMessageDeflate } = tools;
  let offers: ReturnType<ExtensionTools["extension"]["parse"]>;
  try {
    offers = extension.parse(header);
  } catch {
    return undefined;
  }
  const kept = (offers[NAME] ?? []).slice(0, MAX_DEFLATE_OFFERS).filter((offer) => {
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
