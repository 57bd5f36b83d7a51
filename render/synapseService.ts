// Synapse's service as this program runs it, put in place by synapse-packages.sh: the start
// timeout every source gets (a drop-in), and, for Synapse from PyPI (packageSource: pypi), what a
// package would otherwise bring: the extras its lock resolves, and the systemd unit.
import { synapseConfigDir, synapseDataDir, synapsePaths } from "./paths";

/** Synapse's optional dependencies a deployment by this program uses: PostgreSQL, and Redis for workers. */
export const pypiExtras = ["postgres", "redis"];

/** Where the unit is staged on the host; synapse-packages.sh installs it as matrix-synapse.service. */
export const pypiUnitStagedPath = "synapse-unit/matrix-synapse.service";
/** …and the drop-in, as matrix-synapse.service.d/synapse-deploy-start.conf. */
export const startDropInStagedPath = "synapse-unit/synapse-deploy-start.conf";

/** How long a start may take, in seconds: the first start of a new release migrates the schema before Synapse is ready. */
export const startTimeoutSeconds = 7200;

/**
 * Synapse tells systemd it is ready (Type=notify) only after it has migrated the database, and
 * systemd kills a start that takes longer than 90 s by default: a big homeserver's migration would
 * be cut off mid-way, again on every restart. The activation waits as long, and stops waiting at
 * once when the start fails.
 */
export function renderStartDropIn(): string {
  return [
    "# Managed by the synapse Pulumi program: a start after an upgrade migrates the schema first.",
    "[Service]",
    `TimeoutStartSec=${startTimeoutSeconds}`,
    "",
  ].join("\n");
}

/**
 * The main process's unit, like the matrix.org package's (Type=notify, the venv's Python, the same
 * name, user, working directory and environment file) with the sandboxing of Debian's. The signing
 * key is not generated on start (no --generate-keys): the activation makes it once, and a key gone
 * missing fails the start instead of becoming a new identity.
 */
/**
 * How every Synapse process runs, as the packages' units have it: it tells systemd when it is up,
 * as the service user, in its data directory, with the package's environment file (Debian's
 * package has one).
 */
export const synapseProcessService = [
  "Type=notify",
  "NotifyAccess=main",
  "User=matrix-synapse",
  `WorkingDirectory=${synapseDataDir}`,
  "EnvironmentFile=-/etc/default/matrix-synapse",
];

export function renderPypiSynapseUnit(): string {
  const python = synapsePaths("pypi").python;
  const config = `--config-path=${synapseConfigDir}/homeserver.yaml --config-path=${synapseConfigDir}/conf.d/`;
  return [
    "# Managed by the synapse Pulumi program (Synapse from PyPI); local edits are overwritten.",
    "[Unit]",
    "Description=Synapse Matrix homeserver",
    "After=network-online.target postgresql.service",
    "Wants=network-online.target",
    "",
    "[Service]",
    ...synapseProcessService,
    `ExecStart=${python} -m synapse.app.homeserver ${config}`,
    "ExecReload=/bin/kill -HUP $MAINPID",
    "Restart=on-failure",
    "RestartSec=3",
    "SyslogIdentifier=matrix-synapse",
    "LockPersonality=yes",
    "NoNewPrivileges=yes",
    "PrivateDevices=yes",
    "PrivateTmp=yes",
    "ProtectControlGroups=yes",
    "ProtectHome=read-only",
    "ProtectKernelLogs=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelTunables=yes",
    "ProtectSystem=yes",
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
    "RestrictRealtime=yes",
    "SystemCallArchitectures=native",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}
