/**
 * `strata export-blob-device IMAGE DIR`: one uncompressed device file per blob, named by blob id,
 * for `fsck.erofs --device=DIR/<id>… BOOTSTRAP` or `mount -t erofs -o device=…`.
 */
import { rafsKernels } from "../../kernels/index.js";
import { writeBlobDevices } from "../../nydus/devices.js";
import { openNydus } from "../../nydus/image.js";
import { ociKernels } from "../../oci/kernels.js";
import { Exit, positionals, type Command } from "../main.js";
import { REGISTRY_OPTIONS, registryOptions } from "./registry.js";
import { mib, needFiles } from "./shared.js";

export const exportBlobDeviceCommand: Command = {
  summary: "write each blob of a Nydus image as an uncompressed EROFS device file (chunks verified), named by blob id",
  usage: "IMAGE DIR   (IMAGE: oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE, or a bare bootstrap file)",
  options: {
    bootstrap: { kind: "flag", describe: "also write the bootstrap as DIR/image.boot" },
    platform: { kind: "string", describe: "os/arch[/variant] to pick from an index" },
    "blobs-dir": { kind: "string", describe: "for a bare bootstrap: the directory holding its blobs" },
    json: { kind: "flag", describe: "print the devices as JSON" },
    ...REGISTRY_OPTIONS,
  },
  async run(args, ctx) {
    const [src, dir] = positionals(args, 2, "IMAGE DIR");
    const ports = needFiles(ctx);
    const image = await openNydus(ctx.ports, src!, { kernels: ociKernels(ctx.ports), platform: args.values.get("platform"), blobsDir: args.values.get("blobs-dir"), registry: await registryOptions(args, ctx) });
    const devices = await writeBlobDevices(image, dir!, ports, await rafsKernels(ctx.ports), { name: (blobId) => blobId });
    if (args.flags.has("bootstrap")) {
      const boot = await ports.output.create(`${dir}/image.boot`);
      await boot.write(image.bootstrap);
      await boot.commit();
    }
    if (args.flags.has("json")) ctx.stdout(JSON.stringify({ image: src, devices: devices.map(({ blobId, path, size, complete, fingerprint }) => ({ blobId, path, size, complete, fingerprint })) }) + "\n");
    else for (const d of devices) ctx.stdout(`${d.path}  ${mib(d.size)}${d.complete ? "" : "  (only the bootstrap's chunks: the blob has no chunk table)"}\n`);
    return Exit.OK;
  },
};
