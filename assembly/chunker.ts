// FastCDC content-defined chunking (Xia et al., "The Design of Fast Content-Defined Chunking for
// Data Deduplication Based Storage Systems", TPDS 2020): a gear hash, cut-point skipping (the first
// `min` bytes of a chunk are never hashed), normalized chunking (a harder mask before `avg`, an
// easier one after it) and rolling two bytes per iteration. Only chunk lengths are reported, so
// streaming carries just the position in the current chunk and the hash across pushes.
import { reserve } from "./lib/window";

const WINDOW: u32 = 1 << 20;
/** Smallest `min` accepted: it bounds how many cuts one window can produce. */
const MIN_FLOOR: u32 = 64;
/** Largest `max` accepted; keeps every mask clear of bit 31 (needed by the two-byte step). */
const MAX_CEILING: u32 = 1 << 28;
const MAX_CUTS: u32 = WINDOW / MIN_FLOOR + 1;

const input = reserve(WINDOW);
const cuts = reserve(MAX_CUTS << 2);

// gear[i] = fmix32((i + 1) * 0x9E3779B9): MurmurHash3's 32-bit finalizer over a golden-ratio
// Weyl sequence. Deterministic and documented so that other implementations can rebuild it.
const GEAR = memory.data<u32>([
  0x92ca2f0e, 0x3cd6e3f3, 0x1b147dcc, 0x4c081dbf, 0x487981ab, 0xdb408c9d, 0x78bc1b8f, 0xd83072e5,
  0x65cbdd54, 0x1f4b8cef, 0x91783bb0, 0x0231739b, 0x2aa96dd0, 0xb42bc0b0, 0x04e90bf5, 0xe2ad51ba,
  0x79f70494, 0x010b6880, 0xa4523835, 0xceeb36b7, 0xd939ff68, 0xb18c6441, 0xdd507b42, 0x5db59265,
  0x33469494, 0xa65d9b7a, 0x57dcb96b, 0x1b486183, 0xe411ddc1, 0x3e2cf241, 0x9e2ea24f, 0xb7fbe3e5,
  0xa452933a, 0x1e712332, 0x52df2e19, 0x336bd315, 0x56d396d2, 0xf857a331, 0x4fe97da7, 0x9b972a46,
  0x9d3e0d8a, 0xa6ece606, 0xc5c7990c, 0x17d886bf, 0x62ce7c21, 0x827e3843, 0xb9d7427c, 0x17891ea1,
  0xd0f0e17a, 0x5139a741, 0xa3d32f02, 0xdb12a15c, 0x13b3abcf, 0x730c5f25, 0x1db71420, 0xf9435a88,
  0x51ee6af8, 0xaf1ea67f, 0x71d9cb92, 0x3e2c1c4e, 0x1d6722cf, 0xf9d656f3, 0x2f16c17e, 0xf8262992,
  0x8e0ce9df, 0xae71f440, 0x578ec0a1, 0xff95d72e, 0x09b28281, 0xaf7e56b5, 0x535a0944, 0xb7e2d8d3,
  0xf5e7b311, 0x974b2094, 0xc73099c2, 0xb361d660, 0x171c8432, 0x7263cad3, 0xc661216e, 0xb1a0ebca,
  0x6b48aa35, 0x6ed7a14a, 0xe1fef49f, 0x86a1c4e4, 0xf918b5f7, 0x8a927e91, 0xcb840f04, 0xeddfc8e4,
  0xc6a57eea, 0x52fb3d10, 0xa57c5997, 0x2b1613bc, 0x8a6d276d, 0x0207f551, 0xe7a5e850, 0x13cea631,
  0x1e8c037e, 0xf2ebe3a2, 0xee6e1ac7, 0x45516e65, 0xf23f1fc4, 0x40f455eb, 0xdc72791b, 0xfc0df56d,
  0xb81049b8, 0x68f4a814, 0x7740174d, 0x8fd60c81, 0x59d7d340, 0xf20f0d94, 0xb28913b6, 0x5b53b292,
  0x85f6b629, 0xf4e7d086, 0x8d4f664d, 0x5deac120, 0xe12de03b, 0x180e3ac5, 0x53b4b547, 0x95236d9e,
  0xd640b398, 0x121a5de7, 0x00d4705e, 0xf3adade7, 0x394b58d3, 0x0846cd67, 0x263fc0dc, 0x7740d790,
  0xea96dbee, 0xc9475489, 0xd59585de, 0x31a2aaed, 0x27ed7197, 0x5f277bb1, 0x99eb0bc5, 0xff2aae5c,
  0xda5a360c, 0x0aa75661, 0x649cb1b3, 0x5efdad6b, 0xdd4f68d4, 0x86a72ca7, 0x4201f089, 0xc0cf4c58,
  0x4111e2d2, 0x656db74e, 0x20c923ad, 0x0b1feae4, 0x11fc38af, 0x75c2de95, 0x46511ee8, 0x1051ab6b,
  0x5124132d, 0xa2bcf41c, 0x780a25ca, 0xa77ab8ef, 0x7568dcf2, 0x0ae6d15b, 0xca78a349, 0xb44bd742,
  0x7582df18, 0x5411a023, 0x5a24ec5c, 0x1b86acb9, 0xe3045cf5, 0xc3fce93e, 0x68e0e9d5, 0xb134a60d,
  0x473ec5b6, 0xc7d4310f, 0x499ce9f2, 0xe4f07dfe, 0x78c0030c, 0xd80e4856, 0x679081d5, 0x294c18b2,
  0xf46a4da8, 0x8d4bfdd5, 0x3ce18773, 0x164651b0, 0x50ecaf39, 0x7f54d75f, 0xe8fa74c9, 0x55f57765,
  0xc1b3d479, 0xd78edfbb, 0xcee185e4, 0x8d3308c3, 0xdc5e7b20, 0x6f8bb72c, 0x3ba5ecfc, 0xaa3810b3,
  0x8fe02fe6, 0x59ea6896, 0x77a409b3, 0xe4560ba4, 0x1a1ccf8f, 0x113886bf, 0xc60f5761, 0x91b9b088,
  0x953a8f2e, 0xa7322d19, 0xed6b269a, 0x81e8abd6, 0x48ed2806, 0xfd3ccd9b, 0xbbb44b1f, 0x2c74ec81,
  0x5e3a84fd, 0xb16f8d03, 0xdbb4ad77, 0xb8a3293b, 0x32128d44, 0x7e89cbbb, 0xe974d366, 0xeb40472b,
  0x03896f70, 0x70194b8f, 0x1d26d9ca, 0x25ad6ab3, 0xfe6533b9, 0xd8791a20, 0x178c7126, 0xb6a76525,
  0x70a25af9, 0xfc638b1d, 0xe09c6b34, 0x3ad8cc2f, 0xfebbf8f6, 0x1ba4ef3c, 0xa53929be, 0xfca7a6a6,
  0x0b297e98, 0x1e85ea05, 0x87937090, 0x241a1419, 0xfc8e41d5, 0x7090c36b, 0xc6fc0abf, 0xecfa7355,
  0xbcd89f9e, 0x41ccf740, 0x5b6ff5e4, 0xe6e7a8c8, 0xaea6365a, 0xc45b4b12, 0x0dc59e78, 0x46e44e4c,
  0x2f04aeac, 0xa6f1d794, 0x8926bc2e, 0xff7450de, 0xed5bcf43, 0x4c7f81b9, 0x8987eb0e, 0x7970d887,
]);
/** gear[i] << 1, for the first byte of each two-byte step. */
const GEAR_LS = reserve(256 << 2);
for (let i: usize = 0; i < 256; i++) store<u32>(GEAR_LS + (i << 2), load<u32>(GEAR + (i << 2)) << 1);

let minSize: u32 = 0, normalSize: u32 = 0, maxSize: u32 = 0;
let maskS: u32 = 0, maskL: u32 = 0;
/** Bytes of the current (unfinished) chunk seen so far, and the gear hash over them. */
let position: u32 = 0;
let hash: u32 = 0;

export function inputPtr(): usize { return input; }
export function cutsPtr(): usize { return cuts; }
export function windowSize(): u32 { return WINDOW; }

/** `bits` one-bits ending at bit 30: the high hash bits depend on the most bytes. */
function maskOf(bits: u32): u32 {
  return (<u32>((<u64>1 << bits) - 1)) << (31 - bits);
}

/**
 * Sets the chunk sizes (avg a power of two, MIN_FLOOR <= min < avg < max <= MAX_CEILING, level 1-3)
 * and starts a new stream. Returns 0, or -1 when the configuration is out of range.
 */
export function configure(min: u32, avg: u32, max: u32, level: u32): i32 {
  if (min < MIN_FLOOR || min >= avg || avg >= max || max > MAX_CEILING) return -1;
  if (level < 1 || level > 3 || popcnt(avg) != 1) return -1;
  const bits = <u32>ctz(avg);
  minSize = min; normalSize = avg; maxSize = max;
  maskS = maskOf(bits + level);
  maskL = maskOf(bits - level);
  reset();
  return 0;
}

export function reset(): void {
  position = 0;
  hash = 0;
}

/** Length of the unfinished chunk (what final reports). */
export function pending(): u32 { return position; }

/**
 * Scans `room` bytes at `p` for a cut under `mask`, updating the hash. Returns how many bytes the
 * chunk takes up to and including the cut byte, or 0 when there is none.
 */
// @ts-ignore: decorator
@inline function scan(p: usize, room: u32, mask: u32): u32 {
  // Two bytes per step: (h << 2) + (gear[b0] << 1) is the one-byte hash after b0, shifted left
  // once, so testing it against mask << 1 is the one-byte test (bit 31 of the mask is clear).
  const maskLs = mask << 1;
  let h = hash;
  let i: u32 = 0;
  const pairs = room & ~1;
  while (i < pairs) {
    const q = p + i;
    h = (h << 2) + load<u32>(GEAR_LS + (<usize>load<u8>(q) << 2));
    if ((h & maskLs) == 0) return i + 1;
    h += load<u32>(GEAR + (<usize>load<u8>(q, 1) << 2));
    if ((h & mask) == 0) return i + 2;
    i += 2;
  }
  if (i < room) {
    h = (h << 1) + load<u32>(GEAR + (<usize>load<u8>(p + i) << 2));
    if ((h & mask) == 0) return i + 1;
  }
  hash = h;
  return 0;
}

/**
 * Chunks `len` bytes of the input window, continuing the stream. Writes the lengths of the chunks
 * completed here to the cuts window and returns their count, or -1 when len exceeds the window.
 */
export function push(len: u32): i32 {
  if (len > WINDOW || maxSize == 0) return -1;
  let at: u32 = 0;
  let count: u32 = 0;
  while (at < len) {
    if (position < minSize) {
      const skip = min(minSize - position, len - at);
      position += skip;
      at += skip;
      continue;
    }
    const hard = position < normalSize;
    const stageEnd = hard ? normalSize : maxSize;
    const room = min(stageEnd - position, len - at);
    const taken = scan(input + at, room, hard ? maskS : maskL);
    if (taken != 0) {
      store<u32>(cuts + (count++ << 2), position + taken);
      at += taken;
      reset();
      continue;
    }
    at += room;
    position += room;
    if (position == maxSize) {
      store<u32>(cuts + (count++ << 2), maxSize);
      reset();
    }
  }
  return count;
}
