/**
 * The tensors of a checkpoint folder, wherever they are: one `model.safetensors`, or shards listed
 * by `model.safetensors.index.json` (`{"metadata": {...}, "weight_map": {tensor: shard file}}`, the
 * layout HF writes above 5 GB). Only headers are read here; tensors are read one at a time later.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { RuntimeError } from '../errors.js';
import { readSafetensorsHeader, readTensor, type SafetensorsHeader, type Tensor, type TensorInfo } from './safetensors.js';

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

export interface TensorSource {
  readonly dir: string;
  /** every tensor of the folder, each with the header of the file it is in */
  readonly tensors: ReadonlyMap<string, { readonly info: TensorInfo; readonly header: SafetensorsHeader }>;
}

/** Opens the folder's safetensors: the index when there is one, else `model.safetensors`. */
export function openTensorSource(dir: string): TensorSource {
  if (existsSync(join(dir, INDEX_FILE))) return openSharded(dir);
  const single = join(dir, SINGLE_FILE);
  if (!existsSync(single)) throw new RuntimeError(`${dir} has neither ${SINGLE_FILE} nor ${INDEX_FILE}`);
  const header = readSafetensorsHeader(single);
  return { dir, tensors: new Map([...header.tensors].map(([name, info]) => [name, { info, header }])) };
}

export function readSourceTensor(source: TensorSource, name: string): Tensor {
  const entry = source.tensors.get(name);
  if (!entry) throw new RuntimeError(`${source.dir} has no tensor ${name}`);
  return readTensor(entry.header, name);
}

/** The index's weight_map, checked: tensor names to plain file names in the same folder. */
function readWeightMap(path: string): Map<string, string> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new RuntimeError(`${path} is not valid JSON (${(error as Error).message})`);
  }
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new RuntimeError(`${path} has no weight_map object`);
  const out = new Map<string, string>();
  for (const [name, file] of Object.entries(map)) {
    // shards live beside the index; a path elsewhere is either a broken index or a hostile one
    if (typeof file !== 'string' || file !== basename(file) || file === '..' || file === '.') {
      throw new RuntimeError(`${path}: weight_map puts tensor ${name} in ${JSON.stringify(file)}, which is not a file name in the same folder`);
    }
    out.set(name, file);
  }
  return out;
}

function openSharded(dir: string): TensorSource {
  const indexPath = join(dir, INDEX_FILE);
  const weightMap = readWeightMap(indexPath);
  const tensors = new Map<string, { info: TensorInfo; header: SafetensorsHeader }>();
  for (const file of new Set(weightMap.values())) {
    const path = join(dir, file);
    if (!existsSync(path)) throw new RuntimeError(`${indexPath} lists shard ${file}, which does not exist`);
    const header = readSafetensorsHeader(path);
    for (const [name, info] of header.tensors) {
      const earlier = tensors.get(name);
      if (earlier) {
        throw new RuntimeError(`tensor ${name} is in two shards of ${dir}: ${basename(earlier.header.path)} and ${file}`, 'a sharded checkpoint stores each tensor once');
      }
      tensors.set(name, { info, header });
    }
  }
  for (const [name, file] of weightMap) {
    const found = tensors.get(name);
    if (!found || basename(found.header.path) !== file) {
      throw new RuntimeError(`${indexPath} puts tensor ${name} in ${file}, but ${found ? `it is in ${basename(found.header.path)}` : 'no shard has it'}`);
    }
  }
  return { dir, tensors };
}
