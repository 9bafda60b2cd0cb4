/**
 * Structural types for the parts of `ws` that wsmount uses, so that `@types/ws` never appears in
 * wsmount's public declarations. Only ws's public API is typed here; its private fields are read in
 * one place, `ws-compat.ts`.
 * @module
 */

/** Data a connection can send: text as a string, binary as bytes. */
export type SendData = string | Buffer | ArrayBuffer | ArrayBufferView;

/** Options of a single `send`. */
export interface SendOptions {
  /** Send as a binary message; by default strings are text and bytes are binary. */
  binary?: boolean;
  /**
   * Compress when permessage-deflate was negotiated and the message is at least
   * `compression.threshold` bytes (the same rule as for broadcasts). @defaultValue true
   */
  compress?: boolean;
}

/** Where a WebSocket engine reports what happens on it: the connection that owns it. */
export interface SocketSink {
  _received(data: Buffer, isBinary: boolean): void;
  _closedBySocket(code: number, reason: Buffer): void;
  _error(error: Error): void;
  _pong(data: Buffer): void;
}

/**
 * A server-side WebSocket as wsmount drives it: its own engine (which reports to one sink through
 * `attach`) or a `ws` WebSocket (which emits events, public API only).
 */
export interface SocketLike {
  readonly readyState: number;
  readonly bufferedAmount: number;
  readonly protocol: string;
  readonly extensions: string;
  send(data: SendData, options?: { binary?: boolean; compress?: boolean; fin?: boolean }, callback?: (error?: Error) => void): void;
  close(code?: number, reason?: string | Buffer): void;
  terminate(): void;
  ping(data?: SendData): void;
  pause(): void;
  resume(): void;
  attach?(sink: SocketSink): void;
  on?(event: string, listener: (...args: any[]) => void): unknown;
}

/** `WebSocket.readyState` values. */
export const ReadyState = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;
