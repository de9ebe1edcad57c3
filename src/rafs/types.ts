import type { Inode } from "../fs/inode.js";
import type { CompressorName, DigesterName } from "./layout.js";

/** One chunk of a regular file: the 80-byte chunk record of RAFS v5/v6, decoded. */
export interface ChunkInfo {
  /** Digest of the uncompressed chunk (BLAKE3 or SHA-256), 32 bytes. */
  digest: Uint8Array;
  /** Index into the bootstrap's blob table. */
  blobIndex: number;
  /** ChunkFlags bits (COMPRESSED...). */
  flags: number;
  compressedOffset: number;
  compressedSize: number;
  uncompressedOffset: number;
  uncompressedSize: number;
  /** Offset of this chunk inside its file. */
  fileOffset: number;
  /** Index of the chunk in its blob's compression table. */
  index: number;
  crc32: number;
}

/** One entry of a bootstrap's blob table. */
export interface BlobInfo {
  /** Hex sha256 of the blob (normally), 64 characters. */
  blobId: string;
  blobIndex: number;
  chunkSize: number;
  chunkCount: number;
  compressor: CompressorName;
  digester: DigesterName;
  /** BlobFeatures bits. */
  features: number;
  compressedSize: number;
  uncompressedSize: number;
  /** Where the blob's compression table (blob.meta) is, and its ToC. */
  meta: {
    compressor: CompressorName;
    offset: number;
    compressedSize: number;
    uncompressedSize: number;
    tocSize: number;
    tocDigest?: Uint8Array;
    metaDigest?: Uint8Array;
    metaSize?: number;
  };
  /** RAFS v6: the blob's cipher algorithm, 0 = none (encrypted blobs are not readable here). */
  cipherAlgorithm?: number;
}

/** A regular file in a RAFS tree carries its chunks in file order. */
export interface RafsInode extends Inode {
  chunks?: ChunkInfo[];
  entries?: Map<string, RafsInode>;
  /** The inode number in the bootstrap. */
  ino?: number;
  /** RAFS v6: the EROFS nid the inode was read from. */
  nid?: number;
  /** RAFS v5: the stored inode digest (see checkV5Digests). */
  digest?: Uint8Array;
}

/** A bootstrap, decoded: the tree plus the image-wide settings and tables. */
export interface RafsImage {
  version: 5 | 6;
  root: RafsInode;
  blobs: BlobInfo[];
  chunkSize: number;
  digester: DigesterName;
  compressor: CompressorName;
  /** RafsFlags bits. */
  flags: number;
  /** Inode numbers (v6: nids resolved to paths by the reader) in the prefetch table. */
  prefetch: string[];
}
