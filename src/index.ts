// Public API of the runtime-free core. Runtime adapters re-export this with their ports bound.
export { ERROR_CODES, StrataError, isStrataError, type ErrorCode } from "./errors.js";
export type { FetchPort, FilesPort, KernelName, KernelVariant, NativeSha256, OutputPort, PendingFile, Ports, WasmPort } from "./ports.js";

// Kernels: one shape (init/update/final) for hashers, chunkers and codecs.
export type { ByteTransform, Chunker, ChunkCodec, Hasher, Kernel, Sink } from "./kernels/kernel.js";
export { toTransformStream, transformAll } from "./kernels/stream.js";
export { createBlake3, type Blake3Options } from "./kernels/blake3.js";
export { createSha256, createStreamingSha256, type StreamingSha256 } from "./kernels/sha256.js";
export { createFastCdc, createFixedChunker, type FastCdcOptions } from "./kernels/chunker.js";
export { createInflate, type InflateOptions } from "./kernels/inflate.js";
export { createZstdDecoder, createZstdChunkDecoder } from "./kernels/zstd.js";
export { createZstdEncoder, createZstdCompressor } from "./kernels/zstdenc.js";
export { createLz4 } from "./kernels/lz4.js";
export { chunkCodecFor, hasherFor, rafsKernels } from "./kernels/index.js";

// OCI sources and destinations.
export type { Descriptor, Image, ImageConfig, ImageManifest, Layer } from "./oci/types.js";
export { openImage, type OpenOptions } from "./oci/open.js";
export { ociKernels } from "./oci/kernels.js";
export { flatten } from "./oci/flatten.js";
export { inspectImage, type InspectEntry } from "./oci/inspect.js";
export { LayoutWriter } from "./oci/layout-writer.js";
export type { ImageSink } from "./oci/sink.js";

// Registries (docker://): pull, push, Range reads.
export { RegistryClient, registryClient, type RegistryOptions, type RetryPolicy } from "./registry/client.js";
export { dockerConfigAuths, parseCreds, type Credentials } from "./registry/auth.js";
export { registryBlob } from "./registry/blob.js";
export { openRegistry, RegistryStore } from "./registry/store.js";
export { copyImage, RegistrySink, type PushStats } from "./registry/push.js";
export { memoryFiles } from "./ports-memory.js";

// Nydus RAFS: conversion, reading, verification.
export { convert, type ConvertKernels, type ConvertResult, type ConvertReuse } from "./convert/convert.js";
export { convertImage, openDestination, type ConvertImageOptions, type ConvertImageResult } from "./convert/convert-image.js";
export { resolveOptions, type ConvertOptions } from "./convert/options.js";
export { chunkDictionary, openChunkDictionaries, type ChunkDictionary } from "./convert/chunk-dict.js";
export { collectGarbage, LayerCache, type GcLimits, type GcResult, type LayerCachePorts } from "./convert/layer-cache.js";
export { analyzeDedup, FIXED_SIZES, type DedupOptions, type DedupReport } from "./dedup/analyze.js";
export { parseBootstrap, verifyBootstrap } from "./rafs/bootstrap.js";
export { openBlob } from "./rafs/blob-reader.js";
export { readFile, readFileStream } from "./rafs/read.js";
export type { BlobInfo, ChunkInfo, RafsImage, RafsInode } from "./rafs/types.js";
export { openNydus, openNydusImage } from "./nydus/image.js";
export { openLazy, LazyImage, type LazyOptions, type LazyStats, type WarmResult } from "./lazy/image.js";
export type { ChunkCachePort } from "./ports.js";
export { verifyNydusImage, type VerifyReport } from "./nydus/verify.js";
export { diffTree, ociDiffImage, type DiffImage, type DiffReport, type Difference } from "./diff/diff.js";
export type { TreeReadPort, TreeStat } from "./ports.js";
export { unpack, type UnpackOptions, type UnpackResult, type UnpackSource } from "./unpack/unpack.js";
export { nydusSource, ociSource } from "./unpack/sources.js";
export type { TreeOutput, TreeOutputPort, TreePath } from "./ports.js";
export { exportImage, type ExportOptions, type ExportResult } from "./export/oci.js";
export { blockImage, planBlockImage, type BlockImagePlan } from "./rafs/block-image.js";
export { blobChunks, blobDevice } from "./rafs/device.js";
export { writeBlobDevices, type DeviceFile, type DeviceOptions } from "./nydus/devices.js";
export { VerityBuilder, veritySuperblock, VERITY_BLOCK_SIZE, type VerityTree } from "./verity.js";
export type { KernelMount, MountPort } from "./ports.js";
// Lazy mounts: the FUSE protocol, session and RAFS file system (docs/LAZY-MOUNT.md).
export { fuseSession, type FuseSession, type SessionOptions } from "./fuse/session.js";
export { rafsFs, type FileContent } from "./fuse/rafs-fs.js";
export type { ReadOnlyFs, DirEntry } from "./fuse/fs.js";
export type { FusePort, FuseServeOptions } from "./fuse/port.js";

// The event stream (docs/EVENTS.md).
export { EventBus, ndjsonSubscriber, type EventSink, type StrataEvent, type SubscribeOptions, type Subscriber } from "./events.js";
