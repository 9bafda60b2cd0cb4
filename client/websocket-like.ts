/**
 * The part of the WHATWG `WebSocket` the client uses, as structural types: the browser's `WebSocket` and the `ws`
 * package's `WebSocket` both fit, and no platform's types leak into ours.
 * @module
 */

/** A WebSocket instance as the client drives it. */
export interface WebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** The subprotocol the server chose, or `""`. */
  readonly protocol: string;
  /** Set to `"arraybuffer"` by the client, so binary messages arrive as `ArrayBuffer` everywhere. */
  binaryType: string;
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
  send(data: string | ArrayBuffer | ArrayBufferView | Blob): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket constructor: the platform's `WebSocket`, or e.g. `WebSocket` from the `ws` package in Node. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;
