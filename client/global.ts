/**
 * Entry of the classic-script (`iife`) browser build: defines the global `wsmount` with the client's runtime
 * exports. (An explicit object instead of esbuild's `globalName` keeps the build free of export helpers.)
 * @module
 */
import { AckError, AckErrorCode, connect, ProtocolError, RemoteError, WireErrorCode, WsmountClient } from "./index.js";

(globalThis as { wsmount?: unknown }).wsmount = {
  connect,
  WsmountClient,
  AckError,
  RemoteError,
  ProtocolError,
  AckErrorCode,
  WireErrorCode,
};
