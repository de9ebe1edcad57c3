/** `strata umount MOUNTPOINT`: unmounts a `strata mount` and detaches exactly the loop devices it attached. */
import { StrataError } from "../../errors.js";
import { Exit, positionals, type Command } from "../main.js";

export const umountCommand: Command = {
  summary: "unmount what `strata mount` mounted and detach its loop devices (or end a --lazy mount)",
  usage: "MOUNTPOINT",
  options: {
    json: { kind: "flag", describe: "print what was released as JSON" },
  },
  async run(args, ctx) {
    const [mountpoint] = positionals(args, 1, "MOUNTPOINT");
    if (await ctx.ports.fuse?.isMounted(mountpoint!)) {
      // A lazy mount: its server process exits once the kernel ends the connection.
      await ctx.ports.fuse!.unmount(mountpoint!);
      ctx.stdout(args.flags.has("json") ? JSON.stringify({ mountpoint, lazy: true }) + "\n" : `unmounted ${mountpoint} (lazy)\n`);
      return Exit.OK;
    }
    const kernel = ctx.ports.mount;
    if (!kernel) throw new StrataError("UNSUPPORTED", "kernel mounts need Linux and a runtime that can run losetup and mount (Node)");
    const released = await kernel.umount(mountpoint!);
    if (args.flags.has("json")) ctx.stdout(JSON.stringify(released) + "\n");
    else ctx.stdout(`unmounted ${released.mountpoint}; detached ${[released.bootstrapLoop, ...released.deviceLoops].join(" ")}\n`);
    return Exit.OK;
  },
};
