/**
 * The wsmount events protocol, version 1: an isomorphic codec (no platform imports) shared by the server and
 * the client, and the types of typed event maps. The wire format is specified in docs/protocol.md.
 * @module
 */
export {
  AckErrorCode,
  ENVELOPE_PREFIX,
  MAX_ACK_ID,
  MAX_EVENT_NAME_LENGTH,
  MAX_NESTING,
  MessageType,
  PROTOCOL_VERSION,
  WireErrorCode,
} from "./constants.js";
export { decode, decodeWhole, isEnvelope, nestedDeeperThan, peekAckId, peekEventHead, type EventHead } from "./decode.js";
export { encodeAck, encodeAckError, encodeError, encodeEvent, encodeWelcome, toErrorPayload } from "./encode.js";
export { AckError, ProtocolError, RemoteError } from "./errors.js";
export { isAckId, isEventName } from "./validate.js";
export type {
  AckArgs,
  AckErrorMessage,
  AckMessage,
  AckOptions,
  AckResult,
  Decoded,
  DefaultEventMap,
  ErrorMessage,
  ErrorPayload,
  EventArgs,
  EventData,
  EventHandler,
  EventMap,
  EventMessage,
  EventNames,
  InvalidMessage,
  InvalidReason,
  JsonValue,
  RawMessage,
  WelcomeMessage,
} from "./types.js";
