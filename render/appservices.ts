// Application service registrations next to homeserver.yaml, one 0600 file each (their tokens are
// secrets), and the homeserver.yaml key that names them.
import type { AppService } from "../config/appservices";
import type { HomeserverPart } from "./homeserver";
import { synapseConfigDir } from "./paths";

export const appServiceDir = "appservices";

export function appServiceFiles(services: AppService[]): { name: string; path: string; content: string }[] {
  return services.map((s) => ({ name: `appservice-${s.id}`, path: `${appServiceDir}/${s.id}.yaml`, content: s.registration }));
}

export function appServicesHomeserverPart(services: AppService[]): HomeserverPart {
  return services.length === 0 ? {} : { app_service_config_files: appServiceFiles(services).map((f) => `${synapseConfigDir}/${f.path}`) };
}
