/**
 * Structural types for the parts of `ws` that wsmount uses, so that `@types/ws` never appears in
 * wsmount's public declarations.
 * @module
 */

/** Data a connection can send: text as a string, binary as bytes. */
export type SendData = string | Buffer | ArrayBuffer | ArrayBufferView;

/** The `ws` socket surface that connection.ts relies on. */
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
  on(event: string, listener: (...args: any[]) => void): unknown;
  /** The framer; `ws` keeps its queue state there (`_state` 0 = idle, `_queue` = sends waiting on compression). */
  readonly _sender: { readonly _state: number; readonly _queue: readonly unknown[] } | null;
  /** Negotiated extensions; `permessage-deflate` carries its negotiated `params`. */
  readonly _extensions: { readonly "permessage-deflate"?: { readonly params: Readonly<Record<string, unknown>> | null } };
  /** The TCP socket; `ws` keeps it as `_socket`. */
  readonly _socket: {
    readonly bytesWritten: number;
    readonly bytesRead: number;
    /** Bytes waiting in the socket's own write buffer. */
    readonly writableLength: number;
    readonly remoteAddress?: string | undefined;
    readonly destroyed: boolean;
    write(data: Buffer): boolean;
    cork(): void;
    uncork(): void;
  } | null;
}

/** `WebSocket.readyState` values. */
export const ReadyState = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;
