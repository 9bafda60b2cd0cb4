/**
 * A reader for V8's `.heapsnapshot` files, enough for counting objects and finding who retains them.
 * The big numeric arrays (`nodes`, `edges`) are scanned from the bytes into typed arrays instead of
 * going through JSON.parse, so snapshots of large heaps stay well below V8's string length limit.
 */
import { readFileSync } from "node:fs";

interface Meta {
  node_fields: string[];
  node_types: [string[], ...unknown[]];
  edge_fields: string[];
  edge_types: [string[], ...unknown[]];
}

/** One parsed heap snapshot. */
export class HeapSnapshot {
  readonly nodes: Float64Array;
  readonly edges: Float64Array;
  readonly strings: string[];
  readonly nodeFieldCount: number;
  readonly edgeFieldCount: number;
  readonly nodeCount: number;
  readonly #nodeTypes: string[];
  readonly #edgeTypes: string[];
  readonly #type: number;
  readonly #name: number;
  readonly #id: number;
  readonly #selfSize: number;
  readonly #edgeCountField: number;
  readonly #edgeType: number;
  readonly #edgeName: number;
  readonly #edgeTo: number;
  /** Index into `edges` of each node's first edge (node ordinal -> edge array index). */
  readonly firstEdge: Uint32Array;

  constructor(path: string) {
    const bytes = readFileSync(path);
    const metaStart = bytes.indexOf('"meta":');
    const nodesStart = bytes.indexOf('"nodes":[');
    const edgesStart = bytes.indexOf('"edges":[', nodesStart);
    const stringsStart = bytes.lastIndexOf('"strings":[');
    if (metaStart < 0 || nodesStart < 0 || edgesStart < 0 || stringsStart < 0) throw new Error(`${path}: not a heap snapshot`);
    // {"snapshot":{"meta":{...},"node_count":N,"edge_count":E,...},\n"nodes":[
    const header = bytes.subarray(0, nodesStart).toString("utf8").replace(/,\s*$/, "") + "}";
    const snapshot = (JSON.parse(header) as { snapshot: { meta: Meta; node_count: number; edge_count: number } }).snapshot;
    const meta = snapshot.meta;
    this.nodeFieldCount = meta.node_fields.length;
    this.edgeFieldCount = meta.edge_fields.length;
    this.nodeCount = snapshot.node_count;
    this.#nodeTypes = meta.node_types[0];
    this.#edgeTypes = meta.edge_types[0];
    this.#type = meta.node_fields.indexOf("type");
    this.#name = meta.node_fields.indexOf("name");
    this.#id = meta.node_fields.indexOf("id");
    this.#selfSize = meta.node_fields.indexOf("self_size");
    this.#edgeCountField = meta.node_fields.indexOf("edge_count");
    this.#edgeType = meta.edge_fields.indexOf("type");
    this.#edgeName = meta.edge_fields.indexOf("name_or_index");
    this.#edgeTo = meta.edge_fields.indexOf("to_node");
    this.nodes = scanNumbers(bytes, nodesStart + '"nodes":['.length, snapshot.node_count * this.nodeFieldCount);
    this.edges = scanNumbers(bytes, edgesStart + '"edges":['.length, snapshot.edge_count * this.edgeFieldCount);
    const stringsEnd = bytes.lastIndexOf("]");
    this.strings = JSON.parse(bytes.subarray(stringsStart + '"strings":'.length, stringsEnd + 1).toString("utf8")) as string[];
    this.firstEdge = new Uint32Array(this.nodeCount + 1);
    let edge = 0;
    for (let node = 0; node < this.nodeCount; node++) {
      this.firstEdge[node] = edge;
      edge += this.nodes[node * this.nodeFieldCount + this.#edgeCountField]! * this.edgeFieldCount;
    }
    this.firstEdge[this.nodeCount] = edge;
  }

  type(node: number): string {
    return this.#nodeTypes[this.nodes[node * this.nodeFieldCount + this.#type]!] ?? "?";
  }

  name(node: number): string {
    return this.strings[this.nodes[node * this.nodeFieldCount + this.#name]!] ?? "?";
  }

  id(node: number): number {
    return this.nodes[node * this.nodeFieldCount + this.#id]!;
  }

  selfSize(node: number): number {
    return this.nodes[node * this.nodeFieldCount + this.#selfSize]!;
  }

  edgeType(edge: number): string {
    return this.#edgeTypes[this.edges[edge + this.#edgeType]!] ?? "?";
  }

  /** The edge's property name, or its index for elements and hidden edges. */
  edgeName(edge: number): string {
    const type = this.edgeType(edge);
    const value = this.edges[edge + this.#edgeName]!;
    return type === "element" || type === "hidden" ? `[${value}]` : (this.strings[value] ?? "?");
  }

  /** Target node ordinal of an edge. */
  edgeTo(edge: number): number {
    return this.edges[edge + this.#edgeTo]! / this.nodeFieldCount;
  }

  /** A short description of a node for paths. */
  describe(node: number): string {
    const type = this.type(node);
    let name = this.name(node).replace(/\s+/g, " ");
    if (name.length > 60) name = `${name.slice(0, 57)}...`;
    if (node === 0) return "(root)";
    if (type === "object" || type === "closure" || type === "hidden" || type === "synthetic" || type === "native") return `${name || "(anonymous)"}${type === "closure" ? "()" : ""} @${this.id(node)}`;
    return `(${type}) ${JSON.stringify(name)} @${this.id(node)}`;
  }
}

/** Parses `count` comma-separated non-negative integers starting at `offset`. */
function scanNumbers(bytes: Buffer, offset: number, count: number): Float64Array {
  const out = new Float64Array(count);
  let index = 0;
  let value = 0;
  let inNumber = false;
  for (let i = offset; i < bytes.length && index < count; i++) {
    const c = bytes[i]!;
    if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48);
      inNumber = true;
    } else if (inNumber) {
      out[index++] = value;
      value = 0;
      inNumber = false;
      if (c === 93) break;
    } else if (c === 93) break;
  }
  if (index !== count) throw new Error(`heap snapshot: expected ${count} numbers, read ${index}`);
  return out;
}

/** Types whose node name is a category (kept in the group key) rather than a per-instance value. */
const NAMED_TYPES = new Set(["object", "hidden", "native", "synthetic", "object shape"]);

/** The group of a node: its constructor name for objects, its type (and category) otherwise. */
export function groupOf(snapshot: HeapSnapshot, node: number): string {
  const type = snapshot.type(node);
  if (type === "object") return snapshot.name(node);
  if (NAMED_TYPES.has(type)) return `(${type}) ${snapshot.name(node)}`;
  return `(${type})`;
}

/** Finer key for the detail tables: closures by function name, arrays by their kind. */
export function detailOf(snapshot: HeapSnapshot, node: number): string | null {
  const type = snapshot.type(node);
  if (type === "closure") return `${snapshot.name(node) || "(anonymous)"}()`;
  if (type === "array" || type === "code") return `(${type}) ${snapshot.name(node)}`;
  return null;
}

/** Count and self size per group. */
export interface Tally {
  count: number;
  size: number;
}

export interface Census {
  groups: Map<string, Tally>;
  details: Map<string, Tally>;
  ids: Set<number>;
  total: Tally;
}

function add(map: Map<string, Tally>, key: string, size: number): void {
  const tally = map.get(key);
  if (tally === undefined) map.set(key, { count: 1, size });
  else {
    tally.count++;
    tally.size += size;
  }
}

/** Counts every node of the snapshot by group. */
export function census(snapshot: HeapSnapshot): Census {
  const groups = new Map<string, Tally>();
  const details = new Map<string, Tally>();
  const ids = new Set<number>();
  const total = { count: 0, size: 0 };
  for (let node = 0; node < snapshot.nodeCount; node++) {
    const size = snapshot.selfSize(node);
    add(groups, groupOf(snapshot, node), size);
    const detail = detailOf(snapshot, node);
    if (detail !== null) add(details, detail, size);
    ids.add(snapshot.id(node));
    total.count++;
    total.size += size;
  }
  return { groups, details, ids, total };
}

/** Shortest retaining paths from the snapshot's root (weak edges not followed). */
export class Retainers {
  readonly #snapshot: HeapSnapshot;
  readonly #parentNode: Int32Array;
  readonly #parentEdge: Float64Array;

  constructor(snapshot: HeapSnapshot) {
    this.#snapshot = snapshot;
    const count = snapshot.nodeCount;
    this.#parentNode = new Int32Array(count).fill(-2);
    this.#parentEdge = new Float64Array(count).fill(-1);
    const queue = new Int32Array(count);
    let head = 0;
    let tail = 0;
    queue[tail++] = 0;
    this.#parentNode[0] = -1;
    while (head < tail) {
      const node = queue[head++]!;
      for (let edge = snapshot.firstEdge[node]!; edge < snapshot.firstEdge[node + 1]!; edge += snapshot.edgeFieldCount) {
        if (snapshot.edgeType(edge) === "weak") continue;
        const to = snapshot.edgeTo(edge);
        if (this.#parentNode[to] !== -2) continue;
        this.#parentNode[to] = node;
        this.#parentEdge[to] = edge;
        queue[tail++] = to;
      }
    }
  }

  /** The path from the root to `node`, one line per step; empty when unreachable. */
  pathTo(node: number): string[] {
    const s = this.#snapshot;
    const steps: string[] = [];
    let current = node;
    if (this.#parentNode[current] === -2) return [];
    while (current > 0) {
      const parent = this.#parentNode[current]!;
      const edge = this.#parentEdge[current]!;
      steps.push(`${s.describe(parent)} --${s.edgeType(edge)}:${s.edgeName(edge)}--> ${s.describe(current)}`);
      current = parent;
    }
    return steps.reverse();
  }

  /**
   * What `node` alone keeps alive (its retained set: what the root no longer reaches without it), by group,
   * biggest first, with the total.
   */
  retainedBy(node: number): { count: number; size: number; groups: Array<{ group: string; count: number; size: number }> } {
    const s = this.#snapshot;
    const reached = new Uint8Array(s.nodeCount);
    const queue = new Int32Array(s.nodeCount);
    const walk = (start: number, blocked: number, mark: number): void => {
      let head = 0;
      let tail = 0;
      queue[tail++] = start;
      reached[start] = reached[start]! | mark;
      while (head < tail) {
        const from = queue[head++]!;
        for (let edge = s.firstEdge[from]!; edge < s.firstEdge[from + 1]!; edge += s.edgeFieldCount) {
          if (s.edgeType(edge) === "weak") continue;
          const to = s.edgeTo(edge);
          if (to === blocked || (reached[to]! & mark) !== 0) continue;
          reached[to] = reached[to]! | mark;
          queue[tail++] = to;
        }
      }
    };
    walk(0, node, 1);
    walk(node, -1, 2);
    const groups = new Map<string, { group: string; count: number; size: number }>();
    let count = 0;
    let size = 0;
    for (let other = 0; other < s.nodeCount; other++) {
      if (reached[other] !== 2) continue;
      const group = groupOf(s, other);
      const bytes = s.selfSize(other);
      const entry = groups.get(group) ?? { group, count: 0, size: 0 };
      entry.count++;
      entry.size += bytes;
      groups.set(group, entry);
      count++;
      size += bytes;
    }
    return { count, size, groups: [...groups.values()].sort((a, b) => b.size - a.size) };
  }

  /** Every direct retainer of `node` (at most `limit`). */
  directRetainers(node: number, limit = 8): string[] {
    const s = this.#snapshot;
    const out: string[] = [];
    for (let from = 0; from < s.nodeCount && out.length < limit; from++) {
      for (let edge = s.firstEdge[from]!; edge < s.firstEdge[from + 1]!; edge += s.edgeFieldCount) {
        if (s.edgeTo(edge) !== node) continue;
        out.push(`${s.describe(from)} --${s.edgeType(edge)}:${s.edgeName(edge)}-->`);
      }
    }
    return out;
  }
}
