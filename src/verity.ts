/**
 * dm-verity hash trees in the format veritysetup writes (version 1, SHA-256, 4 KiB data and hash
 * blocks, salt): every data block hashed as SHA-256(salt ‖ block), those hashes packed 128 to a
 * hash block, each level hashed again until one block remains; the root hash is the hash of that
 * block (of the only data block when there is one). On disk the hash area is a 512-byte verity
 * superblock padded to one hash block, then the levels, topmost first.
 */
import { StrataError } from "./errors.js";
import type { Hasher } from "./kernels/kernel.js";

export const VERITY_BLOCK_SIZE = 4096;
const DIGEST_SIZE = 32;
const MAX_SALT = 256;

export interface VerityTree {
  rootHash: Uint8Array;
  salt: Uint8Array;
  dataBlocks: number;
  /** The hash area: superblock block, then the hash levels topmost first (empty levels for one data block). */
  hashArea: Uint8Array;
}

/**
 * Builds the tree over data fed in pieces of any size. Memory is 32 bytes per data block (the
 * bottom level) plus one partial block.
 */
export class VerityBuilder {
  private readonly pending = new Uint8Array(VERITY_BLOCK_SIZE);
  private pendingLength = 0;
  private bottom = new Uint8Array(DIGEST_SIZE * 1024);
  private blocks = 0;

  constructor(
    private readonly sha256: Hasher,
    readonly salt: Uint8Array,
  ) {
    if (sha256.algorithm !== "sha256") throw new StrataError("INVALID_ARGUMENT", `verity: needs a sha256 hasher, got ${sha256.algorithm}`);
    if (salt.length > MAX_SALT) throw new StrataError("INVALID_ARGUMENT", `verity: salt of ${salt.length} bytes is longer than ${MAX_SALT}`);
  }

  update(data: Uint8Array): void {
    let at = 0;
    if (this.pendingLength > 0) {
      const take = Math.min(data.length, VERITY_BLOCK_SIZE - this.pendingLength);
      this.pending.set(data.subarray(0, take), this.pendingLength);
      this.pendingLength += take;
      at = take;
      if (this.pendingLength < VERITY_BLOCK_SIZE) return;
      this.addBlock(this.pending);
      this.pendingLength = 0;
    }
    for (; at + VERITY_BLOCK_SIZE <= data.length; at += VERITY_BLOCK_SIZE) this.addBlock(data.subarray(at, at + VERITY_BLOCK_SIZE));
    this.pending.set(data.subarray(at));
    this.pendingLength = data.length - at;
  }

  /** The tree; the data must have been a whole, non-zero number of blocks. */
  finish(uuid?: Uint8Array): VerityTree {
    if (this.pendingLength !== 0) {
      throw new StrataError("INVALID_ARGUMENT", `verity: data of ${this.blocks * VERITY_BLOCK_SIZE + this.pendingLength} bytes is not a multiple of ${VERITY_BLOCK_SIZE}`);
    }
    if (this.blocks === 0) throw new StrataError("INVALID_ARGUMENT", "verity: no data to hash");
    const levels: Uint8Array[] = [];
    let hashes = this.bottom.subarray(0, this.blocks * DIGEST_SIZE);
    let rootHash = hashes.slice(0, DIGEST_SIZE);
    while (this.blocks > 1) {
      // Hashes packed into whole hash blocks (the last one zero-padded), then hashed themselves.
      const level = new Uint8Array(Math.ceil(hashes.length / VERITY_BLOCK_SIZE) * VERITY_BLOCK_SIZE);
      level.set(hashes);
      levels.unshift(level);
      const count = level.length / VERITY_BLOCK_SIZE;
      const next = new Uint8Array(count * DIGEST_SIZE);
      for (let i = 0; i < count; i++) next.set(this.hash(level.subarray(i * VERITY_BLOCK_SIZE, (i + 1) * VERITY_BLOCK_SIZE)), i * DIGEST_SIZE);
      hashes = next;
      if (count === 1) {
        rootHash = next;
        break;
      }
    }
    const sb = veritySuperblock(this.salt, this.blocks, uuid ?? uuidFrom(rootHash));
    const hashArea = new Uint8Array(VERITY_BLOCK_SIZE + levels.reduce((n, l) => n + l.length, 0));
    hashArea.set(sb);
    let at = VERITY_BLOCK_SIZE;
    for (const level of levels) {
      hashArea.set(level, at);
      at += level.length;
    }
    return { rootHash, salt: this.salt, dataBlocks: this.blocks, hashArea };
  }

  private addBlock(block: Uint8Array): void {
    if ((this.blocks + 1) * DIGEST_SIZE > this.bottom.length) {
      const grown = new Uint8Array(this.bottom.length * 2);
      grown.set(this.bottom);
      this.bottom = grown;
    }
    this.bottom.set(this.hash(block), this.blocks * DIGEST_SIZE);
    this.blocks++;
  }

  private hash(block: Uint8Array): Uint8Array {
    return this.sha256.init().update(this.salt).update(block).final();
  }
}

/** The 512-byte verity superblock (format version 1, hash type 1), padded to one hash block. */
export function veritySuperblock(salt: Uint8Array, dataBlocks: number, uuid: Uint8Array): Uint8Array {
  const out = new Uint8Array(VERITY_BLOCK_SIZE);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode("verity"), 0);
  view.setUint32(8, 1, true); // superblock version
  view.setUint32(12, 1, true); // hash type: salt first (0 was Chrome OS's salt-last)
  out.set(uuid.subarray(0, 16), 16);
  out.set(new TextEncoder().encode("sha256"), 32);
  view.setUint32(64, VERITY_BLOCK_SIZE, true);
  view.setUint32(68, VERITY_BLOCK_SIZE, true);
  view.setBigUint64(72, BigInt(dataBlocks), true);
  view.setUint16(80, salt.length, true);
  out.set(salt, 88);
  return out;
}

/** A version-4-shaped UUID taken from a digest, so the superblock is reproducible. */
function uuidFrom(digest: Uint8Array): Uint8Array {
  const uuid = digest.slice(0, 16);
  uuid[6] = (uuid[6]! & 0x0f) | 0x40;
  uuid[8] = (uuid[8]! & 0x3f) | 0x80;
  return uuid;
}

/** Parses a hex salt (even length, at most 256 bytes); "-" means none, as veritysetup takes it. */
export function parseSalt(text: string): Uint8Array {
  if (text === "-") return new Uint8Array(0);
  if (!/^([0-9a-fA-F]{2})*$/.test(text) || text.length > MAX_SALT * 2) {
    throw new StrataError("INVALID_ARGUMENT", `salt must be hex of at most ${MAX_SALT} bytes, got "${text}"`);
  }
  return Uint8Array.from(text.match(/../g) ?? [], (h) => parseInt(h, 16));
}
