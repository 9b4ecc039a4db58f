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
import { DOWNLOAD_LIMITS } from '../../core/limits.ts';
import { checkRegularFile, LocalFileError, readRegularFile } from '../../engine/local-file.ts';

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
    bytes = readRegularFile(file, DOWNLOAD_LIMITS.maxGraphBytes);
  } catch (err) {
    throw new CliError(
      err instanceof LocalFileError ? `cannot read ${err.message}` : `cannot read ${file}: ${messageOf(err)}`,
    );
  }
  const model = decodeModel(bytes, file);
  const dir = path.dirname(file);
  const externalFiles = externalLocations(model, file);
  for (const loc of externalFiles) {
    if (!fs.existsSync(path.join(dir, loc))) {
      throw new CliError(`${file} references external data "${loc}", which is missing next to it`);
    }
    try {
      checkRegularFile(path.join(dir, loc), DOWNLOAD_LIMITS.maxFileBytes);
    } catch (err) {
      throw new CliError(`${file} references external data: ${messageOf(err)}`);
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
  if (!graph || !graph.node || graph.node.length === 0)
    throw new CliError(`${label} is not a valid ONNX model (no graph nodes)`);
  if (toNum(model.irVersion) <= 0) throw new CliError(`${label} is not a valid ONNX model (no IR version)`);
  if (defaultOpset(model) <= 0)
    throw new CliError(`${label} is not a valid ONNX model (no opset for the default domain)`);
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

/** The real path of `file` (symbolic links resolved), also when it does not exist yet (its folder resolved). */
export function realPath(file: string): string {
  const abs = path.resolve(file);
  try {
    return fs.realpathSync(abs);
  } catch {
    try {
      return path.join(realPath(path.dirname(abs)), path.basename(abs));
    } catch {
      return abs;
    }
  }
}

/** What writing a model involves: the encoded bytes, the output path, and the data files to bring along. */
interface WritePlan {
  out: string;
  bytes: Uint8Array;
  /** External data files to link next to the output: [source, destination], absolute. */
  links: Array<[string, string]>;
  /** Every external data file the written model references: [source, location relative to the output's folder]. */
  data: Array<[string, string]>;
  locations: string[];
}

/**
 * Plan writing `loaded.model` to `outFile`, refusing (before anything is written) an output that is, or would put
 * a data file on, the input model or one of its external data files (real paths compared, links resolved), or an
 * existing folder. Rewrites the model's external data locations to the output's names.
 */
function planWrite(loaded: LoadedModel, outFile: string): WritePlan {
  const inFile = path.resolve(loaded.file);
  const out = path.resolve(outFile);
  if (fs.existsSync(out) && fs.statSync(out).isDirectory())
    throw new CliError(`the output ${outFile} is a folder; give an .onnx file path`);
  const graph = loaded.model.graph as GraphProto;
  const tensors = externalTensors(graph).map((t) => ({ t, loc: externalLocation(t, loaded.file) }));
  const moves = new Map(tensors.map(({ loc }) => [loc, renamedLocation(loc, inFile, out)]));
  const protectedFiles = new Map<string, string>([[realPath(inFile), `the input model ${loaded.file}`]]);
  for (const loc of moves.keys())
    protectedFiles.set(realPath(path.join(path.dirname(inFile), loc)), `the input's external data file ${loc}`);
  const links: Array<[string, string]> = [];
  const data: Array<[string, string]> = [];
  for (const [from, to] of moves) {
    const src = path.join(path.dirname(inFile), from);
    const dst = path.join(path.dirname(out), to);
    data.push([src, to]);
    if (realPath(src) !== realPath(dst)) links.push([src, dst]);
  }
  for (const [target, what] of [
    [out, 'the output'],
    ...links.map(([, dst]) => [dst, 'its external data file'] as const),
  ]) {
    const hit = protectedFiles.get(realPath(target));
    if (hit)
      throw new CliError(
        `${what} ${target} is ${hit}: writing it would destroy the input; choose an output path outside the input's files`,
      );
  }
  if (fs.lstatSync(out, { throwIfNoEntry: false })?.isSymbolicLink())
    throw new CliError(
      `the output ${outFile} is a symlink; an output is never written through links: give a plain file path`,
    );
  for (const [, dst] of links) {
    if (fs.lstatSync(dst, { throwIfNoEntry: false })?.isSymbolicLink())
      throw new CliError(
        `the output's external data file ${dst} is a symlink; an output is never written through links`,
      );
  }
  for (const { t } of tensors) {
    for (const e of t.externalData ?? []) if (e.key === 'location') e.value = moves.get(e.value ?? '') ?? e.value;
  }
  return { out, bytes: onnx.ModelProto.encode(loaded.model).finish(), links, data, locations: [...moves.values()] };
}

/** A model and its data files written into a temporary sibling folder of the output, nothing at the output yet. */
interface Staged {
  dir: string;
  tmp: string;
}

/**
 * Write the model and link every external data file it references into a fresh folder beside the output, under the
 * names the model refers to (so onnxruntime can load the staged model there): the output's own files are untouched
 * until commit renames the staged ones into place.
 */
function stage(plan: WritePlan, outFile: string): Staged {
  const dir = path.join(path.dirname(plan.out), `.${path.basename(plan.out)}.stage-${process.pid}`);
  const staged: Staged = { dir, tmp: path.join(dir, path.basename(plan.out)) };
  try {
    fs.mkdirSync(path.dirname(plan.out), { recursive: true });
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir);
    for (const [src, rel] of plan.data) {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      linkOrCopy(src, path.join(dir, rel));
    }
    fs.writeFileSync(staged.tmp, plan.bytes);
    return staged;
  } catch (err) {
    unstage(staged);
    throw new CliError(`cannot write ${outFile}: ${messageOf(err)}`);
  }
}

/** Remove what `stage` wrote. */
function unstage(staged: Staged): void {
  fs.rmSync(staged.dir, { recursive: true, force: true });
}

/** Rename the staged data files that move (plan.links), then the model, into place. */
function commit(staged: Staged, plan: WritePlan, outFile: string): { bytes: number; externalFiles: string[] } {
  try {
    for (const [, dst] of plan.links) {
      fs.mkdirSync(path.dirname(dst), { recursive: true });
      fs.renameSync(path.join(staged.dir, path.relative(path.dirname(plan.out), dst)), dst);
    }
    fs.renameSync(staged.tmp, plan.out);
  } catch (err) {
    throw new CliError(`cannot write ${outFile}: ${messageOf(err)}`);
  } finally {
    unstage(staged);
  }
  return { bytes: plan.bytes.length, externalFiles: plan.locations };
}

/**
 * Encode `loaded.model` to `outFile` (written to a temporary name, then renamed) and bring its external data
 * files along. Refuses outputs that alias the input or its external data (see planWrite).
 */
export function writeModel(loaded: LoadedModel, outFile: string): { bytes: number; externalFiles: string[] } {
  const plan = planWrite(loaded, outFile);
  return commit(stage(plan, outFile), plan, outFile);
}

/**
 * As `writeModel`, but `check` runs on the written temporary file (its data files already next to it) before the
 * rename; when it throws, the temporary file and the data files linked for it are removed, the output path is left as
 * it was, and the error propagates.
 */
export async function writeModelChecked(
  loaded: LoadedModel,
  outFile: string,
  check: (tmpFile: string) => Promise<void>,
): Promise<{ bytes: number; externalFiles: string[] }> {
  const plan = planWrite(loaded, outFile);
  const staged = stage(plan, outFile);
  try {
    await check(staged.tmp);
  } catch (err) {
    unstage(staged);
    throw err;
  }
  return commit(staged, plan, outFile);
}
