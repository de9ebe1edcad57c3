/**
 * RAFS v6 / v5 and Nydus blob on-disk constants. Facts from dragonflyoss/nydus
 * (rafs/src/metadata/layout/v6.rs and v5.rs, storage/src/meta/mod.rs, storage/src/device.rs,
 * utils/src/compress, utils/src/digest.rs), checked against ../shared/fixtures/nydus. All integers
 * little-endian. docs/FORMAT.md explains what strata writes, field by field.
 */

export const EROFS_BLOCK_SIZE = 4096;
export const EROFS_BLOCK_BITS = 12;

/** Compression algorithm ids (blob table compression_algo, ci_compressor). */
export const Compressor = { none: 0, lz4_block: 1, gzip: 2, zstd: 3 } as const;
export type CompressorName = keyof typeof Compressor;

/** Digest algorithm ids (blob table digest_algo). */
export const Digester = { blake3: 0, sha256: 1 } as const;
export type DigesterName = keyof typeof Digester;

/** RAFS superblock flags (v5 flags and v6 extended superblock flags). */
export const RafsFlags = {
  COMPRESSION_NONE: 0x1,
  COMPRESSION_LZ4: 0x2,
  HASH_BLAKE3: 0x4,
  HASH_SHA256: 0x8,
  EXPLICIT_UID_GID: 0x10,
  HAS_XATTR: 0x20,
  COMPRESSION_GZIP: 0x40,
  COMPRESSION_ZSTD: 0x80,
  INLINED_CHUNK_DIGEST: 0x100,
  TARTFS_MODE: 0x200,
} as const;

/** Blob features (blob table `features`). */
export const BlobFeatures = {
  ALIGNED: 0x1,
  INLINED_FS_META: 0x2,
  CHUNK_INFO_V2: 0x4,
  ZRAN: 0x8,
  SEPARATE: 0x10,
  INLINED_CHUNK_DIGEST: 0x20,
  TARFS: 0x40,
  BATCH: 0x80,
  ENCRYPTED: 0x100,
  HAS_TAR_HEADER: 0x1000_0000,
  HAS_TOC: 0x2000_0000,
  CAP_TAR_TOC: 0x4000_0000,
} as const;

/** Chunk flags (80-byte chunk records). */
export const ChunkFlags = { COMPRESSED: 0x1, ENCRYPTED: 0x4, BATCH: 0x8, HAS_CRC32: 0x10 } as const;

export const CHUNK_SIZE_MIN = 0x1000;
export const CHUNK_SIZE_MAX = 0x100_0000;
export const CHUNK_SIZE_DEFAULT = 0x10_0000;
export const MAX_CHUNKS_PER_BLOB = 1 << 24;

// ---- RAFS v6 (EROFS) ----------------------------------------------------------------------
export const V6 = {
  SUPERBLOCK_OFFSET: 1024,
  SUPERBLOCK_SIZE: 128,
  MAGIC: 0xe0f5e1e2,
  /** feature_compat bit marking a RAFS v6 image. */
  FEATURE_COMPAT_RAFS_V6: 0x4000_0000,
  FEATURE_COMPAT_SB_CHKSUM: 0x1,
  FEATURE_COMPAT_MTIME: 0x2,
  FEATURE_INCOMPAT_CHUNKED_FILE: 0x4,
  FEATURE_INCOMPAT_DEVICE_TABLE: 0x8,
  EXT_SUPERBLOCK_OFFSET: 1152,
  EXT_SUPERBLOCK_SIZE: 256,
  /** Device table starts at byte 1408 = devt_slotoff (11) × 128. */
  DEVT_SLOTOFF: 11,
  DEVICE_TABLE_OFFSET: 1408,
  DEVICE_SLOT_SIZE: 128,
  BLOB_TABLE_ENTRY_SIZE: 256,
  INODE_SLOT_SIZE: 32,
  INODE_COMPACT_SIZE: 32,
  INODE_EXTENDED_SIZE: 64,
  DIRENT_SIZE: 12,
  CHUNK_ADDR_SIZE: 8,
  /** i_format bits: bit 0 = extended inode, bits 1..3 = data layout. */
  LAYOUT_FLAT_PLAIN: 0,
  LAYOUT_FLAT_INLINE: 2,
  LAYOUT_CHUNK_BASED: 4,
  /** Chunk-based i_u: CHUNK_FORMAT_INDEXES (0x20) | (log2(chunk size) − 12). */
  CHUNK_FORMAT_INDEXES: 0x20,
  CHUNK_FORMAT_BLKBITS_MASK: 0x1f,
  /** Chunk table records are the 80-byte chunk info shared with v5. */
  CHUNK_INFO_SIZE: 80,
  /** Inline xattrs: a 12-byte ibody header, then 4-byte-aligned entries; i_xattr_icount counts 4-byte units after the header, plus one. */
  XATTR_IBODY_HEADER_SIZE: 12,
  XATTR_ENTRY_SIZE: 4,
} as const;

/** EROFS dirent file types. */
export const FileType = { UNKNOWN: 0, REG: 1, DIR: 2, CHRDEV: 3, BLKDEV: 4, FIFO: 5, SOCK: 6, SYMLINK: 7 } as const;

/** EROFS xattr name indexes (prefix → index), for inline xattrs. */
export const XattrIndex = {
  "user.": 1,
  "system.posix_acl_access": 2,
  "system.posix_acl_default": 3,
  "trusted.": 4,
  "lustre.": 5,
  "security.": 6,
} as const;

// ---- RAFS v5 (read-only) ------------------------------------------------------------------
export const V5 = {
  MAGIC: 0x5241_4653,
  FS_VERSION: 0x500,
  SUPERBLOCK_SIZE: 8192,
  INODE_SIZE: 128,
  CHUNK_INFO_SIZE: 80,
  /** v5 inode flags */
  INODE_SYMLINK: 0x1,
  INODE_HARDLINK: 0x2,
  INODE_XATTR: 0x4,
  INODE_HAS_HOLE: 0x8,
  /** Extended blob table entry: chunk_count u32, features u32, uncompressed_size u64, compressed_size u64, reserved. */
  EXT_BLOB_ENTRY_SIZE: 64,
  /** Names, symlink targets, xattr tables and inodes are padded to 8 bytes. */
  ALIGNMENT: 8,
} as const;

// ---- Nydus blob with ToC ------------------------------------------------------------------
export const BLOB_META_MAGIC = 0xb10bb10b;
export const BLOB_META_HEADER_SIZE = 4096;
export const CHUNK_INFO_V1_SIZE = 16;
export const CHUNK_INFO_V2_SIZE = 24;
export const TAR_HEADER_SIZE = 512;
export const TOC_ENTRY_SIZE = 128;

/** Names of blob sections (ToC entry names and their tar headers). */
export const BlobSection = {
  DATA: "image.blob",
  META: "blob.meta",
  META_HEADER: "blob.meta.header",
  DIGEST: "blob.digest",
  BOOTSTRAP: "image.boot",
  TOC: "rafs.blob.toc",
} as const;

/** ToC entry flags: how the section is compressed. */
export const TocFlags = { NONE: 1, ZSTD: 2, LZ4_BLOCK: 4 } as const;

// ---- OCI conventions for Nydus images ------------------------------------------------------
export const MediaType = {
  NYDUS_BLOB: "application/vnd.oci.image.layer.nydus.blob.v1",
  OCI_LAYER_GZIP: "application/vnd.oci.image.layer.v1.tar+gzip",
} as const;

export const Annotation = {
  NYDUS_BLOB: "containerd.io/snapshot/nydus-blob",
  NYDUS_BOOTSTRAP: "containerd.io/snapshot/nydus-bootstrap",
  NYDUS_FS_VERSION: "containerd.io/snapshot/nydus-fs-version",
  /** strata's own: the dm-verity root hash and salt of `strata export --block --verity --annotate`. */
  VERITY_ROOT_HASH: "dev.strata.block.verity.root-hash",
  VERITY_SALT: "dev.strata.block.verity.salt",
} as const;

export const BOOTSTRAP_PATH_IN_LAYER = "image/image.boot";
