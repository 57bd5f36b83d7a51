import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { stagedDir } from "../render/paths";
import { MaintenanceTool, renderHostTool, renderToolService, renderToolTimer } from "../render/maintenance";
import { scriptStep, sha256, SshConnectionArgs, stagedFile } from "./remote";

/**
 * Stages a maintenance tool from host-tools/ with its config, service and timer, then
 * maintenance-install puts them in place and enables the timer (never resetting it).
 */
export function maintenanceTool(name: string, args: { connection: SshConnectionArgs; toolName: string; tool: pulumi.Input<MaintenanceTool> },
  opts: pulumi.CustomResourceOptions & { dependsOn?: pulumi.Resource[] }): command.remote.Command {
  const tool = pulumi.output(args.tool);
  const files: Record<string, pulumi.Input<string>> = {
    tool: tool.apply((t) => renderHostTool(args.toolName, t.confPath)), conf: tool.apply((t) => t.conf),
    service: tool.apply(renderToolService), timer: tool.apply(renderToolTimer),
  };
  const staged = Object.entries(files).map(([file, content]) => stagedFile(`${name}-${file}`, {
    connection: args.connection, path: `${stagedDir}/maintenance/${args.toolName}/${file}`, content, mode: "0644", owner: "root:root",
  }, { parent: opts.parent }));
  return scriptStep(name, {
    connection: args.connection,
    script: "maintenance-install",
    params: pulumi.all([tool, pulumi.all(Object.values(files))]).apply(([t, contents]) => ({
      NAME: t.name, TOOL: t.toolPath, CONF: t.confPath, CONTENT_SHA256: sha256(contents.join("\0")).slice(0, 16),
    })),
  }, { ...opts, dependsOn: [...staged, ...(opts.dependsOn ?? [])] });
}
