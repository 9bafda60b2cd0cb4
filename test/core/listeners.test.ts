/** Handler slots: one handler without an array, several in one, removal of the right one. */
import { describe, expect, it } from "vitest";
import { addToSlot, handlersIn, removeFromSlot, type HandlerSlot } from "../../core/listeners.js";

const a = () => "a";
const b = () => "b";
const c = () => "c";

describe("handler slots", () => {
  it("keeps a single handler without an array, and several in order", () => {
    let slot: HandlerSlot<() => string> = null;
    slot = addToSlot(slot, a);
    expect(slot).toBe(a);
    slot = addToSlot(slot, b);
    slot = addToSlot(slot, c);
    expect(handlersIn(slot)).toEqual([a, b, c]);
  });

  it("removes the given handler (its first occurrence) and empties to null", () => {
    let slot: HandlerSlot<() => string> = addToSlot(addToSlot(addToSlot(null, a), b), a);
    slot = removeFromSlot(slot, a);
    expect(handlersIn(slot)).toEqual([b, a]);
    slot = removeFromSlot(slot, c);
    expect(handlersIn(slot)).toEqual([b, a]);
    slot = removeFromSlot(removeFromSlot(slot, b), a);
    expect(slot).toBeNull();
    expect(removeFromSlot(addToSlot(null, a), b)).toBe(a);
    expect(removeFromSlot(addToSlot(null, a), a)).toBeNull();
  });

  it("hands out a list that changes to the slot during a walk do not affect", () => {
    let slot: HandlerSlot<() => string> = addToSlot(addToSlot(null, a), b);
    const walked: string[] = [];
    for (const handler of handlersIn(slot)) {
      walked.push(handler());
      slot = addToSlot(removeFromSlot(slot, b), c);
    }
    expect(walked).toEqual(["a", "b"]);
    expect(handlersIn(slot)).toEqual([a, c, c]);
  });
});
