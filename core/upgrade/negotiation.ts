/**
 * permessage-deflate offers as RFC 7692 section 5 wants them handled: an offer with an unknown,
 * invalid or repeated parameter, or one the server cannot honour, is declined (left out of the
 * answer), not a reason to fail the handshake. The first acceptable offer is taken (section 5.1: the
 * client lists them in order of preference).
 * @module
 */
import { probedEngineParts, type DeflateLike, type EngineParts } from "../ws-compat.js";

type Tools = Pick<EngineParts, "extension" | "PerMessageDeflate">;

/** ws's extension tools, checked at start-up with the rest of its engine (core/ws-compat.ts). */
const tools: Tools | null = probedEngineParts;

const NAME = "permessage-deflate";

/** Offers looked at, at most: each costs a trial `PerMessageDeflate`; browsers send one or two. */
export const MAX_DEFLATE_OFFERS = 8;

/** The accepted offer: the compressor to use and the `Sec-WebSocket-Extensions` value to answer with. */
export interface AcceptedDeflate {
  deflate: DeflateLike;
  header: string;
}

/**
 * Accepts the first permessage-deflate offer of `header` this server can honour, or `undefined` when
 * there is none (or ws's tools are missing): the connection goes on uncompressed.
 */
export function negotiateDeflate(header: string, deflateOptions: Record<string, unknown>, maxPayload: number, using: Tools | null = tools): AcceptedDeflate | undefined {
  if (using === null) return undefined;
  for (const offer of offersIn(header, using)) {
    const deflate = tryOffer(offer, deflateOptions, maxPayload, using);
    if (deflate !== undefined) return { deflate, header: using.extension.format({ [NAME]: [deflate.params as Offer] }) };
  }
  return undefined;
}

/**
 * The `Sec-WebSocket-Extensions` header with only the permessage-deflate offers this server can
 * accept, or `undefined` when none is left: what ws's own handshake is given when wsmount does not
 * drive ws's engine itself, since ws fails the whole handshake on the first offer it cannot take.
 */
export function acceptableOffers(header: string, deflateOptions: Record<string, unknown>, maxPayload: number, using: Tools | null = tools): string | undefined {
  if (using === null) return undefined;
  const kept = offersIn(header, using).filter((offer) => {
    const deflate = tryOffer(offer, deflateOptions, maxPayload, using);
    deflate?.cleanup();
    return deflate !== undefined;
  });
  return kept.length === 0 ? undefined : using.extension.format({ [NAME]: kept });
}

type Offer = Record<string, Array<string | true>>;

function offersIn(header: string, using: Tools): Offer[] {
  try {
    return (using.extension.parse(header)[NAME] ?? []).slice(0, MAX_DEFLATE_OFFERS);
  } catch {
    return [];
  }
}

function tryOffer(offer: Offer, deflateOptions: Record<string, unknown>, maxPayload: number, using: Tools): DeflateLike | undefined {
  const deflate = new using.PerMessageDeflate({ ...deflateOptions, isServer: true, maxPayload });
  try {
    deflate.accept([offer]);
    return deflate;
  } catch {
    deflate.cleanup();
    return undefined;
  }
}
