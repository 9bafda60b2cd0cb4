/**
 * Control for the 64 KiB echo: the raw ws server (`ws.ts`, unchanged) in a process that has also loaded
 * Express without using it. With large messages the framework's code in the heap alone changes how V8
 * schedules its garbage collections; this target measures that apart from any WebSocket library.
 */
import "express";
import "./ws.js";
