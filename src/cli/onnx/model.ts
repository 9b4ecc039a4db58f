/**
 * @file Read, check and write ONNX model files with onnx-proto (protobufjs static code for onnx.proto, IR 8).
 *
 * Weights stored as external data (`<model>.onnx_data`, referenced by `TensorProto.external_data` "location"
 * entries relative to the model file) are never loaded: the references are kept, renamed when the data file follows
 * the model's own name (transformers.js looks for `<name>.onnx_data`), and the data files are linked or copied next
 * to the written model.
 */
import fs from 'node:fs';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import type { onnx as O } from 'onnx-proto';
import { CliError, messageOf } from '../lib/errors.ts';

export const { onnx } = onnxProto;
export type ModelProto = O.ModelProto;
export type GraphProto = O.IGraphProto;
export type NodeProto = O.INodeProto;
export type TensorProto = O.ITensorProto;
export type ValueInfoProto = O.IValueInfoProto;

/** An int64 protobuf field as a JS number (protobufjs yields a Long object when the `long` package is present). */
export function toNum(value: number | { toNumber(): number } | null | undefined): number {
  if (value == null) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

/** The opset version of the default ONNX domain. */
export function defaultOpset(model: ModelProto): number {
  const entry = model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx');
  return entry ? toNum(entry.version) : 0;
}

/** Every tensor of the main graph whose bytes live in an external file (initializers and Constant attributes). */
export function externalTensors(graph: GraphProto): TensorProto[] {
  const tensors: TensorProto[] = [];
  const visit = (t: TensorProto | null | undefined) => {
    if (t && t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) tensors.push(t);
  };
  for (const t of graph.initializer ?? []) visit(t);
  for (const node of graph.node ?? []) for (const a of node.attribute ?? []) visit(a.t);
  return tensors;
}

/** The external data "location" of a tensor, checked to stay inside the model's folder. */
function externalLocation(t: TensorProto, file: string): string {
  const entry = (t.externalData ?? []).find((e) => e.key === 'location');
  const loc = entry?.value ?? '';
  if (!loc) throw new CliError(`${file}: tensor "${t.name}" is marked external but names no data file`);
  if (path.isAbsolute(loc) || loc.split(/[\\/]/).includes('..')) {
    throw new CliError(`${file}: tensor "${t.name}" points outside the model folder (${JSON.stringify(loc)})`);
  }
  return loc;
}

/** A decoded model plus where it came from. */
export interface LoadedModel {
  file: string;
  model: ModelProto;
  /** External data files the model references (locations relative to the model's folder). */
  externalFiles: string[];
}

/**
 * Read and decode an ONNX file. Throws `CliError` (exit 2) with the reason when the file is missing, is not a
 * valid protobuf ModelProto, has no graph / default opset, or references external data that is missing.
 */
export function readModel(file: string): LoadedModel {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${messageOf(err)}`);
  }
  const model = decodeModel(bytes, file);
  const dir = path.dirname(file);
  const externalFiles = externalLocations(model, file);
  for (const loc of externalFiles) {
    if (!fs.existsSync(path.join(dir, loc))) {
      throw new CliError(`${file} references external data "${loc}", which is missing next to it`);
    }
  }
  return { file, model, externalFiles };
}

/** The distinct external data files a model references (relative to its folder). */
export function externalLocations(model: ModelProto, label: string): string[] {
  return [...new Set(externalTensors(model.graph as GraphProto).map((t) => externalLocation(t, label)))];
}

/**
 * Decode and check ONNX bytes (`label` names them in messages). Throws `CliError` when they are not a valid
 * protobuf ModelProto or have no graph nodes, IR version or default-domain opset.
 */
export function decodeModel(bytes: Uint8Array, label: string): ModelProto {
  if (bytes.length === 0) throw new CliError(`${label} is empty, not an ONNX model`);
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new CliError(`${label} is not a valid ONNX model (truncated or corrupt protobuf: ${messageOf(err)})`);
  }
  const graph = model.graph;
  if (!graph || !graph.node || graph.node.length === 0) throw new CliError(`${label} is not a valid ONNX model (no graph nodes)`);
  if (toNum(model.irVersion) <= 0) throw new CliError(`${label} is not a valid ONNX model (no IR version)`);
  if (defaultOpset(model) <= 0) throw new CliError(`${label} is not a valid ONNX model (no opset for the default domain)`);
  for (const node of graph.node) {
    if (!node.opType) throw new CliError(`${label} is not a valid ONNX model (a node has no op type)`);
  }
  return model;
}

/** New name for an external data file when the model is written as `outFile`: `<in>.onnx_data*` follows the model. */
function renamedLocation(loc: string, inFile: string, outFile: string): string {
  const inBase = path.basename(inFile);
  const outBase = path.basename(outFile);
  return loc.startsWith(inBase) ? outBase + loc.slice(inBase.length) : loc;
}

/** Hard-link `from` to `to`, or copy it when linking is impossible (other device, no permission). */
function linkOrCopy(from: string, to: string): void {
  fs.rmSync(to, { force: true });
  try {
    fs.linkSync(from, to);
  } catch {
    fs.copyFileSync(from, to);
  }
}

/**
 * Encode `loaded.model` to `outFile` (written to a temporary name, then renamed) and bring its external data
 * files along. Refuses to overwrite the input file.
 */
export function writeModel(loaded: LoadedModel, outFile: string): { bytes: number; externalFiles: string[] } {
  const inFile = path.resolve(loaded.file);
  const out = path.resolve(outFile);
  if (inFile === out) throw new CliError('the output file must differ from the input file');
  const graph = loaded.model.graph as GraphProto;
  const moves = new Map<string, string>();
  for (const t of externalTensors(graph)) {
    const loc = externalLocation(t, loaded.file);
    const next = renamedLocation(loc, inFile, out);
    moves.set(loc, next);
    for (const e of t.externalData ?? []) if (e.key === 'location') e.value = next;
  }
  const bytes = onnx.ModelProto.encode(loaded.model).finish();
  try {
    fs.mkdirSync(path.dirname(out), { recursive: true });
    for (const [from, to] of moves) {
      const src = path.join(path.dirname(inFile), from);
      const dst = path.join(path.dirname(out), to);
      if (path.resolve(src) !== path.resolve(dst)) {
        fs.mkdirSync(path.dirname(dst), { recursive: true });
        linkOrCopy(src, dst);
      }
    }
    const tmp = `${out}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, out);
  } catch (err) {
    throw new CliError(`cannot write ${outFile}: ${messageOf(err)}`);
  }
  return { bytes: bytes.length, externalFiles: [...moves.values()] };
}
