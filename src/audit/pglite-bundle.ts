// PGlite's file bundle (pglite.data, 6.2 MB of Postgres' share and lib files) is unpacked into
// its in-memory file system as views of one buffer, so all of it stays resident for as long as
// any one of its files exists. The audit worker hands PGlite a bundle buffer of its own instead
// and, once Postgres runs, gives each file a running audit database may still read a copy of its
// bytes, deletes the files it never reads, and detaches the buffer, which frees the bundle.

import { readFile } from 'node:fs/promises';
import { PGlite, type PGliteOptions } from '@electric-sql/pglite';

const BUNDLE_URL = new URL('pglite.data', import.meta.resolve('@electric-sql/pglite'));

/**
 * Bundle files a running audit database never reads, by path. Deleting one that is read after
 * all fails that statement with Postgres' "could not access file" (never a wrong result).
 */
export const NOT_READ_AFTER_START: readonly RegExp[] = [
  // initdb's inputs: by now the data directory exists (initdb runs inside PGlite.create).
  /\/share\/postgresql\/(postgres\.bki|information_schema\.sql|system_(views|functions|constraints)\.sql|snowball_create\.sql|sql_features\.txt)$/,
  // Extension build tooling (makefiles, regression test drivers).
  /\/lib\/postgresql\/pgxs\//,
  // Encoding conversions: the server and its only client, the worker's driver, both use UTF-8.
  /\/lib\/postgresql\/(\w+_and_\w+|euc2004_sjis2004)\.so$/,
  // Snowball stemmers (text search) and logical replication.
  /\/lib\/postgresql\/(dict_snowball|libpqwalreceiver|pgoutput)\.so$/,
];

/** The part of Emscripten's FS (MEMFS nodes) the release walks. */
interface BundleFs {
  readdir(path: string): string[];
  lookupPath(path: string, options: { follow: boolean }): { node: FsNode };
  isDir(mode: number): boolean;
  isFile(mode: number): boolean;
  isMountpoint(node: FsNode): boolean;
  unlink(path: string): void;
}

interface FsNode {
  mode: number;
  contents?: unknown;
  usedBytes?: number;
}

/** A Blob whose bytes are a buffer this module can detach later (PGlite only calls arrayBuffer()). */
class OwnedBundle extends Blob {
  readonly #buffer: ArrayBuffer;

  constructor(buffer: ArrayBuffer) {
    super([]);
    this.#buffer = buffer;
  }

  override arrayBuffer(): Promise<ArrayBuffer> {
    return Promise.resolve(this.#buffer);
  }
}

async function readBundle(): Promise<ArrayBuffer> {
  const bytes = await readFile(BUNDLE_URL);
  // A buffer of its own: readFile's may be larger than the file or shared.
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer as ArrayBuffer : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** Regular files below `dir` that live in memory (mount points, such as a data directory on disk, are skipped). */
function* memoryFiles(fs: BundleFs, dir: string): Generator<{ path: string; node: FsNode }> {
  for (const name of fs.readdir(dir)) {
    if (name === '.' || name === '..') continue;
    const path = dir === '/' ? `/${name}` : `${dir}/${name}`;
    const { node } = fs.lookupPath(path, { follow: false });
    if (fs.isMountpoint(node)) continue;
    if (fs.isDir(node.mode)) yield* memoryFiles(fs, path);
    else if (fs.isFile(node.mode)) yield { path, node };
  }
}

/** Counts of what the release did, for tests. */
export interface BundleRelease {
  copied: number;
  deleted: number;
}

/** Copies out or deletes every file that views `bundle`, then detaches it (its memory is freed). */
export function releaseBundle(fs: BundleFs, bundle: ArrayBuffer): BundleRelease {
  const release = { copied: 0, deleted: 0 };
  for (const { path, node } of [...memoryFiles(fs, '/')]) {
    const contents = node.contents;
    if (!(contents instanceof Uint8Array) || contents.buffer !== bundle) continue;
    if (NOT_READ_AFTER_START.some((pattern) => pattern.test(path))) {
      fs.unlink(path);
      release.deleted++;
    } else {
      node.contents = contents.slice(0, node.usedBytes ?? contents.length);
      release.copied++;
    }
  }
  // PGlite keeps its own reference to the bundle; detaching is what lets the bytes go.
  structuredClone(bundle, { transfer: [bundle] });
  return release;
}

/** PGlite.create with the file bundle released once Postgres runs (see the top of this file). */
export async function createPglite(dataDir: string, options: PGliteOptions = {}): Promise<PGlite> {
  const bundle = await readBundle();
  const db = await PGlite.create(dataDir, { ...options, fsBundle: new OwnedBundle(bundle) });
  releaseBundle(db.Module.FS as unknown as BundleFs, bundle);
  return db;
}
