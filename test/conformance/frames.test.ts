/**
 * RFC 6455 / RFC 7692 frame-level conformance, run against every mounting style: every row of
 * cases.ts on a fresh raw connection.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { FRAME_CASES, PROFILES, type ProfileName } from "./cases.js";
import { runCase } from "./run-case.js";
import { echo } from "./echo.js";
import { mounts, type Mounted as Started } from "./targets.js";
import { waitUntil } from "./wait.js";

describe.each(mounts)("frame conformance through $name", (mount) => {
  const servers = new Map<ProfileName, Started>();

  beforeAll(async () => {
    for (const [name, options] of Object.entries(PROFILES) as Array<[ProfileName, (typeof PROFILES)[ProfileName]]>) {
      servers.set(name, await mount.start(options, echo));
    }
  });

  afterAll(async () => {
    await Promise.all([...servers.values()].map((server) => server.close()));
  });

  test.each(FRAME_CASES.map((c) => [`${c.group}: ${c.title}`, c] as const))("%s", async (_name, testCase) => {
    const server = servers.get(testCase.profile ?? "base");
    if (!server) throw new Error(`no server for profile ${testCase.profile}`);
    await runCase(server.port, testCase);
    // Whatever the case did, the endpoint must forget the connection.
    await waitUntil(() => server.endpoint.size === 0, 2_000);
    expect(server.endpoint.size).toBe(0);
  });
});
