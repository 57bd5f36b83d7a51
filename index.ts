// The synapse program: one stack = one Matrix homeserver. Reads and validates the stack config
// first (nothing is created when it is wrong), then composes the components.
import * as pulumi from "@pulumi/pulumi";
import { NginxProxy } from "./components/nginxProxy";
import { PostgresDatabase } from "./components/postgresDatabase";
import { SynapseHost } from "./components/synapseHost";
import { WellKnownSite } from "./components/wellKnownSite";
import { loadSettings } from "./config";
import { baseHomeserverPart } from "./render/homeserver";
import { wellKnownDocuments, wellKnownLocations } from "./render/wellknown";

const settings = loadSettings();
const { hosts } = settings;

const database = new PostgresDatabase("postgres", {
  connection: hosts.database,
  synapseConnection: hosts.synapse,
  serverName: settings.serverName,
  sizing: settings.sizing,
});

const synapse = new SynapseHost("synapse", {
  connection: hosts.synapse,
  serverName: settings.serverName,
  packageSource: settings.packageSource,
  reportStats: settings.reportStats,
  homeserverParts: [baseHomeserverPart(settings), database.homeserverPart],
  databasePassword: database.password,
  adminUser: settings.adminUser,
}, { dependsOn: [database] });

const proxy = new NginxProxy("nginx", {
  connection: hosts.synapse,
  matrixHost: settings.matrixHost,
  tls: settings.tls,
  maxUploadSize: settings.sizing.maxUploadSize,
  adminAllowedNetworks: settings.adminAllowedNetworks,
  federationPort8448: settings.federationPort8448,
  // Without delegation the matrix host is the server name: it answers .well-known itself.
  extraLocations: settings.delegated ? [] : wellKnownLocations(wellKnownDocuments(settings.matrixHost)),
}, { dependsOn: [synapse] });

if (settings.delegated) {
  new WellKnownSite("well-known", {
    connection: hosts.wellKnown,
    serverName: settings.serverName,
    matrixHost: settings.matrixHost,
    tls: settings.tls,
    // After Synapse: a refused deployment (say, a changed server name) must not touch nginx.
  }, { dependsOn: [synapse] });
}

export const serverName = settings.serverName;
export const clientBaseUrl = proxy.clientBaseUrl;
export const federationUrl = `https://${settings.matrixHost}:443`;
export const adminUser = synapse.adminUserId;
export const adminAccessToken = synapse.adminAccessToken;
export const adminPassword = synapse.adminPassword;
export const databaseName = database.databaseName;
export const databaseHost = pulumi.output(hosts.database.host);
export const sqliteMigration = database.migration;
export const tier = settings.tier;
