import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import {
  compressorBinary, compressorBuild, compressorBuildUnit, compressorPrefix, compressorRecipe, compressorSource, compressState,
  compressStateTool, renderCompressorBuildConf, renderCompressorBuildService, stateMapCrate,
} from "../render/compressor";
import { hostTool } from "../render/maintenance";
import { componentPackages, packagesParam } from "../render/packages";
import { stagedDir } from "../render/paths";
import { maintenanceTool } from "./maintenanceTool";
import { scriptStep, SshConnectionArgs, stagedFile } from "./remote";

export interface StateCompressorArgs {
  /** The database host: the compressor is built there and talks to PostgreSQL over its socket. */
  connection: SshConnectionArgs;
  /** Synapse's database, its role, and the PostgreSQL cluster ("major/name") serving it. */
  database: { name: pulumi.Input<string>; user: pulumi.Input<string>; cluster: pulumi.Input<string> };
  /** systemd OnCalendar expression. */
  schedule: pulumi.Input<string>;
  /** The compressor's -c (state groups in memory at once) and -n (chunks per run). */
  chunkSize: pulumi.Input<number>;
  chunks: pulumi.Input<number>;
  /** Each run ends with synapse-reclaim (installed beside it). */
  reclaim: boolean;
}

/**
 * synapse_auto_compressor on the database host: built once from its pinned source in the
 * background (the `install` step starts the build and returns), then run by
 * `synapse-compress-state.timer`, which follows it with VACUUM ANALYZE and journals the state
 * rows before and after.
 */
export class StateCompressor extends pulumi.ComponentResource {
  /** Its stdout says whether the binary is built, building, or its build was started. */
  public readonly install: command.remote.Command;
  public readonly timer: command.remote.Command;

  constructor(name: string, args: StateCompressorArgs, opts?: pulumi.ComponentResourceOptions) {
    super("synapse:index:StateCompressor", name, {}, opts);
    const files: Record<string, string> = {
      ...Object.fromEntries(Object.entries(stateMapCrate()).map(([f, content]) => [`state-map/${f}`, content])),
      tool: hostTool(compressorBuild.name),
      conf: renderCompressorBuildConf(),
      service: renderCompressorBuildService(),
    };
    const staged = Object.entries(files).map(([file, content]) => stagedFile(`${name}-${file.replace(/[/.]/g, "-")}`, {
      connection: args.connection, path: `${stagedDir}/compressor/${file}`, content, mode: "0644", owner: "root:root",
    }, { parent: this }));
    this.install = scriptStep(`${name}-install`, {
      connection: args.connection,
      script: "compressor-install",
      params: {
        VERSION: compressorSource.version, SDIST_URL: compressorSource.url, SDIST_SHA256: compressorSource.sha256,
        BINARY: compressorBinary(), PACKAGES: packagesParam(componentPackages.compressorBuild),
        PREFIX: compressorPrefix, TOOL: compressorBuild.toolPath, CONF: compressorBuild.confPath, UNIT: compressorBuildUnit,
        RECIPE: compressorRecipe(),
      },
    }, { parent: this, dependsOn: staged });
    this.timer = maintenanceTool(`${name}-timer`, {
      connection: args.connection,
      toolName: compressState.name,
      tool: pulumi.all([args.database.name, args.database.user, args.database.cluster, args.schedule, args.chunkSize, args.chunks]).apply(
        ([db, user, cluster, schedule, chunkSize, chunks]) => compressStateTool({ name: db, user, cluster }, { schedule, chunkSize, chunks, reclaim: args.reclaim })),
    }, { parent: this, dependsOn: [this.install] });
    this.registerOutputs({ install: this.install.stdout });
  }
}
