import type { NativeSha256 } from "../../src/ports.js";

/** The DigestStream of the Workers runtime (not in the DOM typings). */
declare const crypto: Crypto & { DigestStream: new (algorithm: string) => WritableStream<Uint8Array> & { readonly digest: Promise<ArrayBuffer> } };

/** crypto.DigestStream: workerd's native streaming SHA-256. Writes queue in order; digest() waits for them. */
export const workersSha256: NativeSha256 = {
  create() {
    const stream = new crypto.DigestStream("SHA-256");
    const writer = stream.getWriter();
    let failure: unknown;
    return {
      update(data: Uint8Array) {
        // The stream holds on to the chunk until it is consumed: give it a copy the caller cannot reuse.
        writer.write(data.slice()).catch((e: unknown) => (failure ??= e));
      },
      async digest() {
        await writer.close();
        if (failure) throw failure;
        return new Uint8Array(await stream.digest);
      },
    };
  },
};
