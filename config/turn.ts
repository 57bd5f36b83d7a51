// Calls: a TURN server (coturn) that relays voice and video when the two ends cannot reach each
// other directly (phones on mobile networks, offices behind NAT). Synapse hands each client
// short-lived credentials for it (turn_shared_secret); the keys are in keys.ts, their rules here.
import type { SshConnection } from "./settings";

/** What coturn listens on, as Synapse's TURN guide sets it up: TURN over UDP and TCP, TURN over TLS. */
export const turnPorts = { plain: 3478, tls: 5349 } as const;
/** Every service the program runs listens below this port; the relay's range must stay above it. */
export const relayPortFloor = 10000;
/** turnRelayPorts: `min-max`. */
export const relayPortsPattern = /^([1-9][0-9]{0,4})-([1-9][0-9]{0,4})$/;

export interface TurnSettings {
  /** The host coturn runs on: the Synapse VPS, or turnHost (with the Synapse VPS's SSH settings). */
  connection: SshConnection;
  /** On the Synapse VPS coturn serves TLS with nginx's certificate for matrixHost. */
  onSynapseHost: boolean;
  /** The host name clients reach TURN at: in turn_uris and on the certificate. */
  domain: string;
  /** The public address of a host behind NAT (coturn's external-ip); none when its own are public. */
  externalIp?: string;
  relayPorts: { min: number; max: number };
  /** A Synapse duration: how long the credentials Synapse hands out stay valid. */
  userLifetime: string;
  /** CIDRs the relay may reach although they are private or special (allowed-peer-ip). */
  allowedPeerRanges: string[];
}

/** The values of the turn* keys (as keys.ts declares them). */
export interface TurnKeys {
  turn: boolean;
  turnHost: string;
  turnDomain: string;
  turnExternalIp: string;
  turnRelayPorts: string;
  turnUserLifetime: string;
  turnAllowedPeerRanges: string[];
}

/**
 * The TURN settings, or undefined when turn is off. Cross-key rules: the relay's ports above the
 * program's own and clear of TURN's listeners; a host of its own is not the Synapse VPS; on the
 * Synapse VPS the domain is matrixHost (nginx's certificate covers that name only).
 */
export function turnSettings(c: TurnKeys, synapse: SshConnection, matrixHost: string, serverName: string,
  project: string, errors: string[]): TurnSettings | undefined {
  if (!c.turn) return undefined;
  const [, min, max] = relayPortsPattern.exec(c.turnRelayPorts)!.map(Number);
  const listeners = Object.values(turnPorts);
  if (min < relayPortFloor || max > 65535 || min > max || listeners.some((p) => p >= min && p <= max)) {
    errors.push(`${project}:turnRelayPorts: given ${JSON.stringify(c.turnRelayPorts)}, expected min-max with ${relayPortFloor} ≤ min ≤ max ≤ 65535 ` +
      `(the program's services listen below ${relayPortFloor}; TURN itself on ${listeners.join(" and ")})`);
  }
  const ownHost = c.turnHost !== "";
  if (ownHost && c.turnHost === synapse.host) {
    errors.push(`${project}:turnHost: given ${JSON.stringify(c.turnHost)}, expected another host than the Synapse VPS (leave it empty for coturn on the Synapse VPS)`);
  }
  if (!ownHost && c.turnDomain !== "" && c.turnDomain !== matrixHost) {
    errors.push(`${project}:turnDomain: given ${JSON.stringify(c.turnDomain)}, expected nothing or ${JSON.stringify(matrixHost)} without turnHost ` +
      "(coturn on the Synapse VPS serves TLS with nginx's certificate, which names matrixHost)");
  }
  return {
    connection: ownHost ? { ...synapse, host: c.turnHost } : synapse,
    onSynapseHost: !ownHost,
    domain: c.turnDomain || (ownHost ? `turn.${serverName}` : matrixHost),
    externalIp: c.turnExternalIp || undefined,
    relayPorts: { min, max },
    userLifetime: c.turnUserLifetime,
    allowedPeerRanges: c.turnAllowedPeerRanges,
  };
}
